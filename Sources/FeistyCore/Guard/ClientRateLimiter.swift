import Synchronization

/// The per-client token buckets of `--rate R --burst B`, shared by every event loop.
///
/// The buckets are split into shards by client (`Striped`), each behind its own lock held only for one dictionary
/// update, so at 100k requests per second two event loops meet on a lock only when their clients share a shard.
///
/// Memory is bounded: at most `maxClients` buckets (split evenly between the shards). A shard that is full when a new
/// client arrives first forgets the buckets that are full again (their clients were quiet long enough that a new
/// bucket is the same thing); if that frees less than a sixteenth of it, it also forgets the buckets closest to full
/// (their clients gain the least from a fresh bucket; a client deep in debt, the one being throttled, is kept). So a
/// flood of new addresses costs one sweep per sixteenth of a shard, not one per arrival.
///
/// The rate and burst can change at run time (``retune(rate:burst:)``, a configuration reload): two relaxed atomic
/// loads per request read them (a cache line only a reload writes, so the event loops never contend for it), and a
/// client's bucket made under other settings is replaced by a fresh one at its next request.
public final class ClientRateLimiter: Sendable {
    /// Tokens per second per client (`--rate`).
    public var rate: Double { Double(bitPattern: rateBits.load(ordering: .relaxed)) }
    /// Tokens per client at most (`--burst`).
    public var burst: Int { burstValue.load(ordering: .relaxed) }
    private let rateBits: Atomic<UInt64>
    private let burstValue: Atomic<Int>
    /// How many clients are tracked at most.
    public let maxClients: Int

    private let shards: Striped<[ClientKey: TokenBucket]>
    private let perShard: Int

    /// Creates a limiter with no client tracked.
    /// - Parameters:
    ///   - rate: Tokens per second per client; must be finite and above zero.
    ///   - burst: Tokens per client at most; values below 1 count as 1.
    ///   - maxClients: How many clients are tracked at most (at least one per shard).
    ///   - shards: How many independently locked shards (rounded up to a power of two).
    public init(rate: Double, burst: Int, maxClients: Int = 100_000, shards: Int = 16) {
        _ = TokenBucket(rate: rate, burst: burst)  // Checks the parameters once, here.
        self.rateBits = Atomic(rate.bitPattern)
        self.burstValue = Atomic(max(1, burst))
        let striped = Striped<[ClientKey: TokenBucket]>(count: shards) { [:] }
        self.shards = striped
        self.perShard = max(1, (max(1, maxClients) + striped.count - 1) / striped.count)
        self.maxClients = perShard * striped.count
    }

    /// Judges one request of `client` arriving at `now`, taking a token when it is allowed.
    /// - Parameters:
    ///   - client: The client's key.
    ///   - now: The request's time (uptime clock); it should not go backwards for one client.
    /// - Returns: `.allow`, or `.throttle` with the whole seconds for `Retry-After` (answer 429).
    public func check(_ client: ClientKey, at now: Duration) -> RateDecision {
        let index = shards.index(of: client)
        let rate = self.rate
        let burst = self.burst
        return shards.withLock(index) { buckets in
            if let index = buckets.index(forKey: client) {
                if buckets.values[index].rate == rate, buckets.values[index].burst == burst {
                    return buckets.values[index].take(at: now)
                }
                buckets.values[index] = TokenBucket(rate: rate, burst: burst)
                return buckets.values[index].take(at: now)
            }
            if buckets.count >= perShard { Self.makeRoom(in: &buckets, keeping: perShard, at: now) }
            var bucket = TokenBucket(rate: rate, burst: burst)
            let decision = bucket.take(at: now)
            buckets[client] = bucket
            return decision
        }
    }

    /// Applies a new rate and burst from now on (a configuration reload).
    /// - Parameters:
    ///   - rate: Tokens per second per client; must be finite and above zero.
    ///   - burst: Tokens per client at most; values below 1 count as 1.
    public func retune(rate: Double, burst: Int) {
        _ = TokenBucket(rate: rate, burst: burst)  // Checks the parameters.
        burstValue.store(max(1, burst), ordering: .relaxed)
        rateBits.store(rate.bitPattern, ordering: .relaxed)
    }

    /// How many clients are tracked (locks every shard in turn: for metrics and tests, not the hot path).
    public var trackedClients: Int {
        (0..<shards.count).reduce(0) { total, index in total + shards.withLock(index) { $0.count } }
    }

    /// Forgets full buckets, then, if that freed less than a sixteenth of `limit`, the buckets closest to full.
    private static func makeRoom(in buckets: inout [ClientKey: TokenBucket], keeping limit: Int, at now: Duration) {
        buckets = buckets.filter { !$0.value.isFull(at: now) }
        let target = limit - max(1, limit / 16)
        guard buckets.count > target else { return }
        let excess = buckets.count - target
        for entry in buckets.sorted(by: { $0.value.fullTime < $1.value.fullTime }).prefix(excess) {
            buckets[entry.key] = nil
        }
    }
}
