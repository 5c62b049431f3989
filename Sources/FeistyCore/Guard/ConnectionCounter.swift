/// Open connections per client, for `--max-conns-per-client N`: a connection beyond `max` is refused (closed at
/// accept, before any byte is read).
///
/// Shared by every event loop; split into shards by client (`Striped`), each locked only for one dictionary update.
/// A client is forgotten when its last connection closes, so memory follows the open connections.
public final class ConnectionCounter: Sendable {
    /// How many connections one client may have open at once.
    public let max: Int

    private let shards: Striped<[ClientKey: Int]>

    /// Creates a counter with no connection open.
    /// - Parameters:
    ///   - max: Open connections per client at most; values below 1 count as 1.
    ///   - shards: How many independently locked shards (rounded up to a power of two).
    public init(max: Int, shards: Int = 16) {
        self.max = Swift.max(1, max)
        self.shards = Striped(count: shards) { [:] }
    }

    /// A connection from `client` was accepted.
    /// - Parameter client: The client's key.
    /// - Returns: `true` when it is counted (keep it; call `close` when it closes), `false` when the client has `max`
    ///   connections open already (refuse it, and do not call `close` for it).
    public func open(_ client: ClientKey) -> Bool {
        let limit = max
        return shards.withLock(shards.index(of: client)) { counts in
            let open = counts[client, default: 0]
            guard open < limit else { return false }
            counts[client] = open + 1
            return true
        }
    }

    /// A connection `open` counted has closed. A client with no counted connection is left alone.
    /// - Parameter client: The client's key.
    public func close(_ client: ClientKey) {
        shards.withLock(shards.index(of: client)) { counts in
            guard let open = counts[client] else { return }
            counts[client] = open > 1 ? open - 1 : nil
        }
    }

    /// How many connections `client` has open.
    public func openConnections(of client: ClientKey) -> Int {
        shards.withLock(shards.index(of: client)) { $0[client, default: 0] }
    }

    /// How many clients have a connection open (locks every shard in turn: for metrics and tests).
    public var trackedClients: Int {
        (0..<shards.count).reduce(0) { total, index in total + shards.withLock(index) { $0.count } }
    }
}
