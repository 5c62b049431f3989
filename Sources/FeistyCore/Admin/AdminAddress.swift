/// Where the admin listener binds: a TCP address (loopback by default) or a Unix socket.
public enum AdminAddress: Sendable, Hashable, CustomStringConvertible {
    /// `HOST:PORT`.
    case tcp(host: String, port: Int)
    /// `unix:PATH`: control is allowed to whoever can open the socket (mode 0600: feisty's user).
    case unix(path: String)

    /// The port used when `--admin` is not given; not a well-known port (the Prometheus exporters' range
    /// 9100-9999 is avoided on purpose).
    public static let defaultPort = 7117
    /// Where the admin listener binds when `--admin` is not given.
    public static let standard = AdminAddress.tcp(host: "127.0.0.1", port: defaultPort)

    /// Parses `--admin`: `HOST:PORT`, `[V6]:PORT`, `:PORT` (loopback), or `unix:PATH`; `off` is handled by the
    /// caller.
    /// - Throws: `AdminError.invalidAddress`.
    public init(parsing text: String) throws(AdminError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { throw .invalidAddress(text) }
            self = .unix(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { throw .invalidAddress(text) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        self = .tcp(host: host, port: port)
    }

    /// `127.0.0.1:7117`, `[::1]:7117` or `unix:/run/feisty.sock`.
    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// How people reach it: `http://127.0.0.1:7117` or `unix:/run/feisty.sock`.
    public var url: String {
        switch self {
        case .tcp: "http://\(description)"
        case .unix: description
        }
    }

    /// Whether this is a Unix socket (control allowed without a token).
    public var isUnixSocket: Bool {
        if case .unix = self { return true }
        return false
    }
}
