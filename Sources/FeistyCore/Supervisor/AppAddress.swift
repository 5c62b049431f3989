import NIOCore

/// Where one launched app instance listens for feisty: a Unix domain socket in feisty's private scratch directory
/// (the default), or a TCP port on 127.0.0.1 (`--internal tcp`).
///
/// A Unix socket in a directory only feisty's user can open means no other local user or process can reach the app
/// around feisty's gate, and a connection costs neither side a TCP handshake: the Flask dev server closes every
/// connection, so that cost is paid once per request (figures in `docs/PERFORMANCE.md`).
///
/// In the launcher's report it is `{"unix": PATH}` or `{"host": HOST, "port": PORT}`; on the launcher's command line
/// (`--bind`) it is `unix:PATH` or `HOST:PORT`.
public enum AppAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A Unix domain socket at this path.
    case unixSocket(path: String)
    /// A TCP address.
    case tcp(ListenAddress)

    /// The longest Unix socket path the platform takes (`sun_path` holds 108 bytes on Linux, 104 on macOS, with
    /// the terminating NUL).
    public static let maximumSocketPathBytes = 103

    /// `unix:PATH` or `HOST:PORT`, as the launcher's `--bind` takes it.
    public var description: String {
        switch self {
        case .unixSocket(let path): "unix:\(path)"
        case .tcp(let address): address.description
        }
    }

    /// The address to connect to.
    /// - Throws: NIO's `SocketAddressError` for a path that is too long or a host that is not an IP literal.
    public func socketAddress() throws -> SocketAddress {
        switch self {
        case .unixSocket(let path): try SocketAddress(unixDomainSocketPath: path)
        case .tcp(let address): try SocketAddress(ipAddress: address.host, port: address.port)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case unix, host, port
    }

    /// Decodes `{"unix": PATH}` or `{"host": HOST, "port": PORT}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let path = try container.decodeIfPresent(String.self, forKey: .unix) {
            self = .unixSocket(path: path)
        } else {
            self = .tcp(try ListenAddress(from: decoder))
        }
    }

    /// Encodes the form ``init(from:)`` reads.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .unixSocket(let path):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(path, forKey: .unix)
        case .tcp(let address):
            try address.encode(to: encoder)
        }
    }
}
