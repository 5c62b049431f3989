import Synchronization

/// Whether the proxy's public address listens yet, and where: half of `/readyz`, and `listen` in `/status`.
public final class PublicListener: Sendable {
    private let address = Mutex<String?>(nil)

    /// Creates one that does not listen yet.
    public init() {}

    /// The proxy listens at `address` (`host:port`).
    public func listening(at address: String) { self.address.withLock { $0 = address } }

    /// Where it listens (`nil`: not yet).
    public var current: String? { address.withLock { $0 } }
}
