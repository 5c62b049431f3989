/// Preventive recycling (`--max-requests N`, `--max-age DURATION`): replace an instance after it served so many
/// requests or ran so long, before a slow leak or fragmentation makes it a problem.
///
/// Each instance gets its own jittered limits, so instances started together do not all recycle at the same moment
/// and leave the app without capacity. The jitter only adds: like gunicorn's
/// `max_requests + randint(0, max_requests_jitter)`, the configured values are minimums, and no instance recycles
/// before it served `maxRequests` requests or ran for `maxAge`.
public struct RecyclePolicy: Sendable, Hashable {
    /// The configured request count, or nil for no request limit.
    public var maxRequests: Int?
    /// The configured age, or nil for no age limit.
    public var maxAge: Duration?
    /// The largest fraction added to each limit, in 0...1.
    public var jitter: Double

    /// Creates a policy.
    /// - Parameters:
    ///   - maxRequests: Recycle after this many requests; nil, zero or less means no limit (as gunicorn's 0).
    ///   - maxAge: Recycle after this uptime; nil, zero or less means no limit.
    ///   - jitter: Each instance's limits lie in `limit...limit * (1 + jitter)`; 0.1 by default, clamped to 0...1.
    public init(maxRequests: Int?, maxAge: Duration?, jitter: Double = 0.1) {
        self.maxRequests = maxRequests.flatMap { $0 > 0 ? $0 : nil }
        self.maxAge = maxAge.flatMap { $0 > .zero ? $0 : nil }
        self.jitter = jitter.isNaN ? 0 : min(max(jitter, 0), 1)
    }

    /// Whether any limit is set: without one the supervisor need not count.
    public var isEnabled: Bool { maxRequests != nil || maxAge != nil }

    /// One instance's limits: each configured limit plus a random share of up to `jitter` of it.
    /// - Parameter generator: The randomness; a seeded one in tests, `SystemRandomNumberGenerator` in feisty.
    /// - Returns: The limits to give the instance about to start.
    public func limits<G: RandomNumberGenerator>(using generator: inout G) -> RecycleLimits {
        var requests: Int?
        if let maxRequests {
            let spread = Int(min(Double(maxRequests) * jitter, Double(Int.max / 2)).rounded(.down))
            let (limit, overflow) = maxRequests.addingReportingOverflow(Int.random(in: 0...spread, using: &generator))
            requests = overflow ? Int.max : limit
        }
        var age: Duration?
        if let maxAge {
            age = maxAge * (1 + Double.random(in: 0...jitter, using: &generator))
        }
        return RecycleLimits(requests: requests, age: age)
    }
}
