/// How full `AppAdmission` is at one moment (for metrics and the status page).
public struct AdmissionCounts: Sendable, Hashable {
    /// Requests holding a slot in the app (always 0 without `--app-concurrency`: nothing is counted then).
    public var inFlight: Int
    /// Tickets waiting, by class (indexed by `PriorityClass.rawValue`).
    public var waitingByClass: [Int]

    /// Creates counts.
    public init(inFlight: Int = 0, waitingByClass: [Int] = Array(repeating: 0, count: PriorityClass.allCases.count)) {
        self.inFlight = inFlight
        self.waitingByClass = waitingByClass
    }

    /// Tickets waiting in `priority`.
    public func waiting(_ priority: PriorityClass) -> Int { waitingByClass[priority.rawValue] }

    /// Tickets waiting in every class.
    public var waiting: Int { waitingByClass.reduce(0, +) }
}
