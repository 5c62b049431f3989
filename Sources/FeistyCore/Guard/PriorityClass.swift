/// Which queue a request waits in when the app is at `--app-concurrency`: lower classes are admitted first.
public enum PriorityClass: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// A `--priority` peer (a health checker, an internal service): first, whatever else is known of it.
    case priority = 0
    /// A client seen before with no strikes in the `--find-time` window.
    case clean = 1
    /// A client never seen before (or forgotten).
    case unknown = 2
    /// A client with strikes in the window (it asked for undeclared paths), or with another request waiting
    /// already (so one client's flood cannot fill a better class's queue ahead of other clients): last.
    case struck = 3

    /// The class of a request's client.
    ///
    /// A priority peer is `.priority` even with strikes (it is configured, not judged); otherwise strikes in the
    /// window make `.struck`, whatever the history; a client seen before is `.clean`; the rest are `.unknown`.
    /// - Parameters:
    ///   - isPriorityPeer: Whether the client matches `--priority`.
    ///   - strikes: The client's weighted strikes in the window (`StrikeBook.strikes(of:at:)`).
    ///   - hasHistory: Whether the client was seen before (for instance it holds a rate bucket, or sent an earlier
    ///     request on this connection).
    ///   - alreadyWaiting: Whether another request of the client waits in the queue now.
    /// - Returns: The class to queue it in.
    public static func of(
        isPriorityPeer: Bool,
        strikes: Int,
        hasHistory: Bool,
        alreadyWaiting: Bool = false
    ) -> PriorityClass {
        if isPriorityPeer { return .priority }
        if strikes > 0 || alreadyWaiting { return .struck }
        return hasHistory ? .clean : .unknown
    }

    public static func < (lhs: PriorityClass, rhs: PriorityClass) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `priority`, `clean`, `unknown` or `struck` (a metrics label).
    public var description: String {
        switch self {
        case .priority: return "priority"
        case .clean: return "clean"
        case .unknown: return "unknown"
        case .struck: return "struck"
        }
    }
}
