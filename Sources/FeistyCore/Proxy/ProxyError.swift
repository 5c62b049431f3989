/// Errors of the proxy subsystem that reach a caller (flag values, binding).
public enum ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `HOST:PORT` value that cannot be parsed.
    case invalidAddress(String)
    /// An `--upstream` value that is neither `HOST:PORT` nor `unix:PATH`.
    case invalidUpstream(String)
    /// A size such as `10m` that cannot be parsed.
    case invalidSize(String)
    /// A `--trusted-proxy` value that is not an IPv4/IPv6 address or CIDR block.
    case invalidNetwork(String)
    /// A duration flag that is not a non-negative number of seconds.
    case invalidDuration(String)
    /// A `--threads` value outside 1...256.
    case invalidThreads(Int)
    /// The listen address could not be bound.
    case bindFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case .invalidAddress(let value):
            "invalid address '\(value)': expected HOST:PORT (e.g. 127.0.0.1:5000, [::1]:8080)"
        case .invalidUpstream(let value):
            "invalid upstream '\(value)': expected HOST:PORT or unix:PATH (e.g. 127.0.0.1:8000, unix:/run/app.sock)"
        case .invalidSize(let value): "invalid size '\(value)': expected bytes or a number with k, m or g (e.g. 10m)"
        case .invalidNetwork(let value): "invalid trusted proxy '\(value)': expected an IP address or CIDR (10.0.0.0/8)"
        case .invalidDuration(let value):
            "invalid duration '\(value)': expected seconds or a number with ms, s, m, h, d or w (e.g. 10, 0.5, 5m)"
        case .invalidThreads(let value): "invalid thread count \(value): expected 1 to 256"
        case .bindFailed(let address, let reason): "cannot listen on \(address): \(reason)"
        }
    }
}
