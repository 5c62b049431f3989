/// A TCP host and port, as the launcher reports them (`{"host": "0.0.0.0", "port": 8080}`).
public struct ListenAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The host or IP literal (`127.0.0.1`, `0.0.0.0`, `::`).
    public var host: String
    /// The TCP port.
    public var port: Int

    /// Creates an address.
    /// - Parameters:
    ///   - host: The host or IP literal.
    ///   - port: The TCP port.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with IPv6 literals bracketed (`[::1]:8080`), as `--bind` expects.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
