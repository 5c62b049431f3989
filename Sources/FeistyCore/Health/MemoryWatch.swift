/// Decides when an instance uses too much memory: its resident size stayed above the limit for a while.
///
/// A single high sample is not enough: a request that builds a large response, or a garbage collection that has not
/// run yet, briefly raises the RSS and lowers it again. Only memory that stays above the limit for `sustain`, sample
/// after sample, is worth replacing the instance for.
///
/// A plain value, one per instance: the supervisor samples ``ProcessTreeMemory`` (about once a second), feeds each
/// sample here and replaces the instance on the first ``MemoryVerdict/exceeded(residentBytes:limit:for:)``.
public struct MemoryWatch: Sendable, Hashable {
    /// The most resident bytes an instance may keep; a sample above it counts as over.
    public var limit: Int64
    /// How long the samples must stay above `limit` before the verdict is `exceeded`.
    public var sustain: Duration

    /// When the current run of samples above the limit began; nil while within it.
    private var overSince: ContinuousClock.Instant?

    /// Creates a watch.
    /// - Parameters:
    ///   - limit: The resident bytes above which a sample counts as over.
    ///   - sustain: How long the memory must stay over, 3 s by default; zero acts on the first sample over.
    public init(limit: Int64, sustain: Duration = .seconds(3)) {
        self.limit = limit
        self.sustain = sustain
    }

    /// Judges one sample.
    ///
    /// The verdict stays `exceeded` for every later sample over the limit, until one falls back within it: the
    /// supervisor acts on the first and ignores the rest while the replacement starts.
    /// - Parameters:
    ///   - residentBytes: The instance's resident bytes now.
    ///   - now: When the sample was taken.
    /// - Returns: Within the limit, over it but not yet for `sustain`, or exceeded.
    public mutating func sample(residentBytes: Int64, now: ContinuousClock.Instant) -> MemoryVerdict {
        guard residentBytes > limit else {
            // One sample within the limit breaks the run: the memory was given back.
            overSince = nil
            return .withinLimit
        }
        let since = overSince ?? now
        overSince = since
        let over = now - since
        if over >= sustain {
            return .exceeded(residentBytes: residentBytes, limit: limit, for: over)
        }
        return .overLimit(since: since)
    }
}
