#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Response times counted in 64 fixed log-scale buckets: cheap to record on every request, enough to tell a p95.
///
/// Buckets 0...62 have upper bounds growing by a constant factor of about 1.264 from 50 µs to 100 s (so a quantile
/// is at most 26 % above the true value); bucket 0 also takes everything faster, bucket 63 everything slower than
/// 100 s. The counts live inline in a `SIMD64<UInt32>` (InlineArray would need macOS 26): recording never allocates,
/// and merging is one vector addition. A bucket saturates at `UInt32.max` instead of overflowing.
public struct LatencyHistogram: Sendable, Hashable {
    /// The number of buckets.
    public static let bucketCount = 64

    /// The inclusive upper bounds of buckets 0...62 in nanoseconds: 50 µs times a constant ratio, ending at 100 s.
    static let upperBounds: [UInt64] = {
        let lowest = 50_000.0
        let highest = 100_000_000_000.0
        let steps = Double(bucketCount - 2)
        return (0..<(bucketCount - 1)).map { index in
            UInt64((lowest * pow(highest / lowest, Double(index) / steps)).rounded())
        }
    }()

    /// The count of each bucket.
    private(set) var counts = SIMD64<UInt32>()
    /// The number of recorded durations.
    public private(set) var count = 0
    /// The longest recorded duration in nanoseconds: the exact bound for the slowest bucket.
    public private(set) var maximum: UInt64 = 0

    /// Creates an empty histogram.
    public init() {}

    /// Counts one response time.
    /// - Parameter nanoseconds: From dispatching the request to the end of the response.
    public mutating func record(nanoseconds: UInt64) {
        let bucket = Self.bucket(of: nanoseconds)
        if counts[bucket] != .max { counts[bucket] += 1 }
        count += 1
        maximum = max(maximum, nanoseconds)
    }

    /// Adds another histogram's counts to this one (say, the windows of several instances for one route).
    /// - Parameter other: The histogram to add.
    public mutating func merge(_ other: LatencyHistogram) {
        let sum = counts &+ other.counts
        // A lane that wrapped around is smaller than what it started from: saturate it.
        counts = sum.replacing(with: .max, where: sum .< counts)
        count += other.count
        maximum = max(maximum, other.maximum)
    }

    /// The duration below which a fraction `q` of the recorded ones lie, rounded up to a bucket bound.
    ///
    /// The answer is the upper bound of the bucket that holds the `ceil(q × count)`-th fastest duration, but never
    /// more than the slowest one recorded: an upper estimate, at most one bucket step (26 %) too high.
    /// - Parameter q: The quantile, 0...1 (0.95 for p95); values outside are clamped.
    /// - Returns: Nanoseconds, or nil for an empty histogram.
    public func quantile(_ q: Double) -> UInt64? {
        guard count > 0 else { return nil }
        let fraction = q.isNaN ? 1 : min(max(q, 0), 1)
        let total = (0..<Self.bucketCount).reduce(0) { $0 + Int(counts[$1]) }
        let rank = max(1, Int((fraction * Double(total)).rounded(.up)))
        var seen = 0
        for bucket in 0..<Self.bucketCount {
            seen += Int(counts[bucket])
            if seen >= rank {
                return min(Self.upperBound(ofBucket: bucket), maximum)
            }
        }
        return maximum
    }

    /// The largest duration a bucket holds, in nanoseconds; `UInt64.max` for the last, open-ended one.
    /// - Parameter bucket: 0..<``bucketCount``.
    public static func upperBound(ofBucket bucket: Int) -> UInt64 {
        bucket < upperBounds.count ? upperBounds[bucket] : .max
    }

    /// The bucket a duration falls in: the first whose upper bound is at least it (a binary search).
    static func bucket(of nanoseconds: UInt64) -> Int {
        var low = 0
        var high = upperBounds.count
        while low < high {
            let middle = (low + high) / 2
            if upperBounds[middle] < nanoseconds {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }
}
