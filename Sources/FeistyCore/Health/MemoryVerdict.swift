/// What one memory sample of an instance means.
public enum MemoryVerdict: Sendable, Hashable {
    /// At or below the limit.
    case withinLimit
    /// Above the limit since `since`, not yet for long enough to act.
    case overLimit(since: ContinuousClock.Instant)
    /// Above the limit for `for` without a sample below it: replace the instance.
    case exceeded(residentBytes: Int64, limit: Int64, for: Duration)
}

extension MemoryVerdict: CustomStringConvertible {
    /// For log lines: `memory 612 MiB above the 512 MiB limit (--max-memory) for 3 s`.
    public var description: String {
        switch self {
        case .withinLimit:
            "memory within the limit"
        case .overLimit:
            "memory above the limit, not yet for long"
        case .exceeded(let residentBytes, let limit, let duration):
            "memory \(Self.mebibytes(residentBytes)) above the \(Self.mebibytes(limit)) limit for "
                + duration.formattedSeconds
        }
    }

    /// Whole MiB, or one decimal below 10 MiB.
    static func mebibytes(_ bytes: Int64) -> String {
        let mebibytes = Double(bytes) / 1_048_576
        if mebibytes >= 10 { return "\(Int64(mebibytes.rounded())) MiB" }
        return "\((mebibytes * 10).rounded() / 10) MiB"
    }
}
