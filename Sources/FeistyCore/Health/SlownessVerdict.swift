/// What one window of an instance's response times says.
public enum SlownessVerdict: Sendable, Hashable {
    /// Nothing to do.
    case normal
    /// The instance answers `rule` far slower than usual: swap it for a new instance, then call
    /// ``SlownessWatch/swapped(from:to:)``.
    case slow(rule: Int, recentP95: UInt64, baselineP95: UInt64, count: Int)
    /// The new instance is as slow on `rule` as the one it replaced: the cause lies elsewhere (a slow database, a
    /// slow upstream). Keep the instance and report.
    case slowAfterSwap(rule: Int, recentP95: UInt64, baselineP95: UInt64, count: Int)
}

extension SlownessVerdict: CustomStringConvertible {
    /// For log lines: `rule 3 slow: p95 1.2 s over 250 requests, usually 120 ms`.
    public var description: String {
        switch self {
        case .normal:
            "response times normal"
        case .slow(let rule, let recent, let baseline, let count):
            "rule \(rule) slow: p95 \(Self.text(recent)) over \(count) requests, usually \(Self.text(baseline))"
        case .slowAfterSwap(let rule, let recent, let baseline, let count):
            "rule \(rule) still slow on a new instance: p95 \(Self.text(recent)) over \(count) requests, usually "
                + "\(Self.text(baseline)); the cause is outside the instance, keeping it"
        }
    }

    /// `850 µs`, `12 ms`, `1.2 s`: two or three significant digits are all a bucket bound is worth.
    static func text(_ nanoseconds: UInt64) -> String {
        let (value, unit): (Double, String) =
            switch nanoseconds {
            case ..<1_000_000: (Double(nanoseconds) / 1_000, "µs")
            case ..<1_000_000_000: (Double(nanoseconds) / 1_000_000, "ms")
            default: (Double(nanoseconds) / 1_000_000_000, "s")
            }
        if value >= 10 { return "\(Int(value.rounded())) \(unit)" }
        return "\((value * 10).rounded() / 10) \(unit)"
    }
}
