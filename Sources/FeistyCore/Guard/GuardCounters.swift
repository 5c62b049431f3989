import Synchronization

/// The guard's cumulative counts since feisty started, for `/status`. Bumped only on the paths that strike, refuse
/// or throttle (one relaxed atomic add each), never on a request that is simply forwarded.
public final class GuardCounters: Sendable {
    private let strikeCount = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)
    private let throttledCount = Atomic<Int>(0)
    private let banCount = Atomic<Int>(0)

    init() {}

    func struck() { strikeCount.add(1, ordering: .relaxed) }
    func refused() { refusedCount.add(1, ordering: .relaxed) }
    func throttled() { throttledCount.add(1, ordering: .relaxed) }
    func banned() { banCount.add(1, ordering: .relaxed) }

    /// Strikes noted (a canary counts once).
    public var strikes: Int { strikeCount.load(ordering: .relaxed) }
    /// Requests and connections refused: banned or denied clients, and undeclared URLs refused after a strike.
    public var refusedRequests: Int { refusedCount.load(ordering: .relaxed) }
    /// Requests answered 429.
    public var throttledRequests: Int { throttledCount.load(ordering: .relaxed) }
    /// Bans decided or added (automatic and through the admin API).
    public var bans: Int { banCount.load(ordering: .relaxed) }
}
