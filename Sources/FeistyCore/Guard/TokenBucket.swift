/// One client's token bucket (`--rate R --burst B`): it holds at most `burst` tokens, gains `rate` tokens per second,
/// and every request takes one; a request that finds it empty is throttled and takes nothing.
///
/// Kept as the time the bucket will be full again (the generic cell rate algorithm): one `Duration` of state, no
/// floating point per request, and a bucket untouched since that time is full, which is how `ClientRateLimiter`
/// knows what it may forget. A new bucket is full.
///
/// Time is a `Duration` since any fixed epoch at or before every time passed (the proxy uses the uptime clock). A
/// time earlier than one already seen is treated as that time, so a clock step backwards grants no tokens.
public struct TokenBucket: Sendable, Hashable {
    /// Tokens gained per second (`--rate`).
    public let rate: Double
    /// How many tokens the bucket holds at most (`--burst`): requests a quiet client may send at once.
    public let burst: Int
    /// The time one token takes to come back (`1 / rate` seconds).
    private let interval: Duration
    /// The time the bucket is full again; at or before now means full.
    private var fullAt: Duration = .zero

    /// Creates a full bucket.
    /// - Parameters:
    ///   - rate: Tokens per second; must be finite and above zero.
    ///   - burst: The capacity; values below 1 count as 1.
    public init(rate: Double, burst: Int) {
        precondition(rate.isFinite && rate > 0, "TokenBucket rate must be a positive number of tokens per second")
        self.rate = rate
        self.burst = max(1, burst)
        // At least a nanosecond, so an absurd rate still advances the state.
        self.interval = max(.seconds(1) / rate, .nanoseconds(1))
    }

    /// Takes a token for a request arriving at `now`, if there is one.
    /// - Parameter now: The request's time.
    /// - Returns: `.allow` (a token was taken) or `.throttle` with the whole seconds until one is back.
    public mutating func take(at now: Duration) -> RateDecision {
        let start = max(fullAt, now)
        // After taking a token the bucket would be `start + interval - now` from full; it holds `burst` tokens.
        let deficit = start + interval - now
        let capacity = interval * burst
        if deficit <= capacity {
            fullAt = start + interval
            return .allow
        }
        return .throttle(retryAfter: Self.wholeSeconds(deficit - capacity))
    }

    /// Whether the bucket holds `burst` tokens at `now` (the client has been quiet long enough to be forgotten).
    public func isFull(at now: Duration) -> Bool { fullAt <= now }

    /// When the bucket is full again (a time at or before now: already full).
    public var fullTime: Duration { fullAt }

    /// `wait` rounded up to whole seconds, at least one.
    static func wholeSeconds(_ wait: Duration) -> Duration {
        let (seconds, attoseconds) = wait.components
        return .seconds(max(1, attoseconds > 0 ? seconds + 1 : seconds))
    }
}
