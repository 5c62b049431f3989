import NIOCore

/// The results of the reverse-pattern checks by address: bounded, oldest dropped first, each kept for a lifetime
/// (`--dns-refresh`) and then forgotten so the address is checked again.
struct ReverseCheckCache: Sendable {
    /// What each checked address was granted (empty: no pattern matched or the name was not confirmed).
    private(set) var results: [UInt128: ClientListMembership] = [:]
    /// The addresses in the order they were checked, each once.
    private var order = CircularBuffer<(bits: UInt128, checkedAt: ContinuousClock.Instant)>()
    /// At most this many addresses are kept.
    let limit: Int
    /// How long a result holds.
    let lifetime: Duration

    init(limit: Int, lifetime: Duration) {
        self.limit = max(1, limit)
        self.lifetime = lifetime
    }

    var count: Int { results.count }

    func contains(_ address: IPAddress) -> Bool { results[address.bits] != nil }

    /// Records the result for `address`, dropping the oldest results beyond the limit.
    mutating func record(_ membership: ClientListMembership, for address: IPAddress, at now: ContinuousClock.Instant) {
        if results[address.bits] != nil {
            results[address.bits] = membership
            return
        }
        while results.count >= limit, let oldest = order.popFirst() { results[oldest.bits] = nil }
        results[address.bits] = membership
        order.append((address.bits, now))
    }

    /// Forgets the results older than the lifetime.
    /// - Returns: Whether any was forgotten.
    @discardableResult
    mutating func expire(now: ContinuousClock.Instant) -> Bool {
        var expired = false
        while let oldest = order.first, oldest.checkedAt.advanced(by: lifetime) <= now {
            order.removeFirst()
            results[oldest.bits] = nil
            expired = true
        }
        return expired
    }
}
