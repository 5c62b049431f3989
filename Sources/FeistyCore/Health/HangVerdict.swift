/// What a finished probe says about an instance.
public enum HangVerdict: Sendable, Hashable {
    /// The instance is alive, or it is too early to tell.
    case healthy
    /// The instance is hung: no sign of life (a response byte or an answered probe) for `silentFor`, and the probe
    /// got no answer. Replace it.
    case hung(silentFor: Duration)
}

extension HangVerdict: CustomStringConvertible {
    /// For log lines: `hung: no response for 10 s and a probe got no answer (--hang-timeout)`.
    public var description: String {
        switch self {
        case .healthy:
            "healthy"
        case .hung(let silentFor):
            "hung: no response for \(silentFor.formattedSeconds) and a probe got no answer (--hang-timeout)"
        }
    }
}
