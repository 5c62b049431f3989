/// A ban the policy decided: who, from when, until when, and the undeclared paths that earned it.
///
/// Times are `Duration`s since the caller's epoch (a monotonic clock in the proxy, the Unix epoch in `replay`).
public struct BanDecision: Sendable, Hashable {
    /// The banned client.
    public let client: ClientKey
    /// When the ban starts.
    public let since: Duration
    /// When it ends; `nil` for `--ban-time forever`.
    public let until: Duration?
    /// 1 for a client's first ban, 2 for the next, ...: the ban time doubles with each.
    public let count: Int
    /// Whether this is only "would ban" (`--dry-run`): logged, nothing refused.
    public let dryRun: Bool
    /// The distinct undeclared paths in the window that made the strikes, in the order they were struck.
    public let evidence: [String]

    /// Creates a decision.
    public init(client: ClientKey, since: Duration, until: Duration?, count: Int, dryRun: Bool, evidence: [String]) {
        self.client = client
        self.since = since
        self.until = until
        self.count = count
        self.dryRun = dryRun
        self.evidence = evidence
    }

    /// Whether the ban still holds at `now`.
    public func holds(at now: Duration) -> Bool {
        guard let until else { return true }
        return now < until
    }
}
