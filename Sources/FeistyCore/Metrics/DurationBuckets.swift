/// A cumulative latency histogram with Prometheus's bucket bounds, recorded per event loop without locks: the count
/// and the exact sum of the durations in each bucket. At scrape time the growth since the last scrape is replayed
/// into a swift-metrics `Timer`, each bucket's new durations as their mean (which lies in the same bucket), so the
/// exposed buckets and sum are exact while the hot path never touches the shared, locked histogram.
struct DurationBuckets: Sendable, Equatable {
    /// The upper bounds in nanoseconds (100 µs to 30 s); a last bucket takes everything slower.
    static let upperBounds: [Int64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
        30_000_000_000,
    ]

    /// Durations per bucket (the last one is above every bound).
    private(set) var counts = [Int](repeating: 0, count: upperBounds.count + 1)
    /// The sum of the durations per bucket, in nanoseconds.
    private(set) var sums = [Int64](repeating: 0, count: upperBounds.count + 1)

    /// Counts one duration.
    mutating func record(nanoseconds: Int64) {
        let value = max(0, nanoseconds)
        var index = 0
        while index < Self.upperBounds.count, Self.upperBounds[index] < value { index += 1 }
        counts[index] += 1
        sums[index] &+= value
    }

    /// Adds another loop's buckets.
    mutating func merge(_ other: DurationBuckets) {
        for index in counts.indices {
            counts[index] += other.counts[index]
            sums[index] &+= other.sums[index]
        }
    }

    /// The durations to replay so that a histogram holding `previous` then holds `self`: per bucket that grew,
    /// `count` durations summing exactly to the growth of its sum.
    func growth(since previous: DurationBuckets) -> [(nanoseconds: Int64, count: Int)] {
        var replay: [(nanoseconds: Int64, count: Int)] = []
        for index in counts.indices {
            let count = counts[index] - previous.counts[index]
            guard count > 0 else { continue }
            let sum = sums[index] &- previous.sums[index]
            let mean = sum / Int64(count)
            // count - 1 at the mean, one carrying the remainder: the sum stays exact.
            if count > 1 { replay.append((mean, count - 1)) }
            replay.append((sum - mean * Int64(count - 1), 1))
        }
        return replay
    }

    /// The total count.
    var total: Int { counts.reduce(0, +) }
}
