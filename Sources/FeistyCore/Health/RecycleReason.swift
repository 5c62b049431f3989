/// Which preventive limit an instance reached.
public enum RecycleReason: Sendable, Hashable {
    /// It served this many requests; `limit` is its jittered `--max-requests`.
    case servedRequests(Int, limit: Int)
    /// It ran this long; `limit` is its jittered `--max-age`.
    case reachedAge(Duration, limit: Duration)
}

extension RecycleReason: CustomStringConvertible {
    /// For log lines: `served 1043 requests (its --max-requests limit: 1043)`.
    public var description: String {
        switch self {
        case .servedRequests(let served, let limit):
            "served \(served) requests (its --max-requests limit: \(limit))"
        case .reachedAge(let age, let limit):
            "ran for \(age.formattedSeconds) (its --max-age limit: \(limit.formattedSeconds))"
        }
    }
}
