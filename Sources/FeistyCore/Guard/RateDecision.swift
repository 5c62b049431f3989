/// What a rate limit decides for one request (`TokenBucket.take`, `ClientRateLimiter.check`).
public enum RateDecision: Sendable, Hashable {
    /// Within the limit: forward the request.
    case allow
    /// Over the limit: answer 429 with `Retry-After` set to `retryAfter`, a whole number of seconds, at least 1
    /// (the time until the bucket holds a token again, rounded up).
    case throttle(retryAfter: Duration)

    /// `retryAfter` in whole seconds, as the `Retry-After` header carries it; `nil` for `.allow`.
    public var retryAfterSeconds: Int? {
        guard case .throttle(let retryAfter) = self else { return nil }
        return Int(retryAfter.components.seconds)
    }
}
