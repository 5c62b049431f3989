/// One instance's recycling limits, drawn by ``RecyclePolicy/limits(using:)`` when the instance starts.
public struct RecycleLimits: Sendable, Hashable {
    /// Recycle once the instance served this many requests; nil for no limit.
    public var requests: Int?
    /// Recycle once the instance is this old; nil for no limit.
    public var age: Duration?

    /// Creates limits.
    /// - Parameters:
    ///   - requests: The request count, or nil.
    ///   - age: The uptime, or nil.
    public init(requests: Int?, age: Duration?) {
        self.requests = requests
        self.age = age
    }

    /// Why the instance should be recycled now, if it should.
    ///
    /// The request count is checked first: when both are reached, it is the more telling reason.
    /// - Parameters:
    ///   - served: The requests the instance answered so far.
    ///   - age: How long it has been running.
    /// - Returns: The reached limit, or nil while neither is.
    public func reason(served: Int, age: Duration) -> RecycleReason? {
        if let requests, served >= requests {
            return .servedRequests(served, limit: requests)
        }
        if let limit = self.age, age >= limit {
            return .reachedAge(age, limit: limit)
        }
        return nil
    }
}
