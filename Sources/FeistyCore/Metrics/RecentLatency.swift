import NIOCore

/// Latencies of the last minute or so, for live percentiles: a ring of ``slotCount`` histograms of
/// ``slotNanoseconds`` each. Recording finds its slot from the exchange's own end time (no clock read) and empties a
/// slot that belongs to an older turn of the ring, so nothing needs a timer; reading adds up the slots still inside
/// the window. Two small arrays allocated once; recording never allocates.
struct RecentLatency: Sendable {
    /// How many slots the ring has: the window is `slotCount × slotNanoseconds` (the current slot is partial).
    static let slotCount = 6
    /// Each slot's span: 10 s.
    static let slotNanoseconds: Int64 = 10_000_000_000

    private var slots = [LatencyHistogram](repeating: LatencyHistogram(), count: slotCount)
    /// Which period (time / slot span) each slot holds; -1 for never used.
    private var periods = [Int64](repeating: -1, count: slotCount)

    /// Counts one latency that ended at `time`.
    mutating func record(nanoseconds: UInt64, at time: NIODeadline) {
        let period = Self.period(of: time)
        let index = Int(period % Int64(Self.slotCount))
        if periods[index] != period {
            // The slot holds an older period (or is newer, a clock step we ignore by starting over): empty it.
            periods[index] = period
            slots[index] = LatencyHistogram()
        }
        slots[index].record(nanoseconds: nanoseconds)
    }

    /// Everything recorded within the window that ends at `now`.
    func window(at now: NIODeadline) -> LatencyHistogram {
        let current = Self.period(of: now)
        var total = LatencyHistogram()
        for index in 0..<Self.slotCount where periods[index] > current - Int64(Self.slotCount) {
            total.merge(slots[index])
        }
        return total
    }

    /// Adds another ring's slots (another event loop's) that are inside the window ending at `now`.
    mutating func merge(_ other: RecentLatency, at now: NIODeadline) {
        let current = Self.period(of: now)
        for index in 0..<Self.slotCount {
            let period = other.periods[index]
            guard period > current - Int64(Self.slotCount), period <= current else { continue }
            if periods[index] != period {
                periods[index] = period
                slots[index] = LatencyHistogram()
            }
            slots[index].merge(other.slots[index])
        }
    }

    private static func period(of time: NIODeadline) -> Int64 {
        Int64(time.uptimeNanoseconds / UInt64(slotNanoseconds))
    }
}

extension TrafficStatus.Percentiles {
    /// The p50 and p99 of a histogram in milliseconds; `nil` when it is empty.
    init?(_ histogram: LatencyHistogram) {
        guard let p50 = histogram.quantile(0.5), let p99 = histogram.quantile(0.99) else { return nil }
        self.init(p50: Double(p50) / 1_000_000, p99: Double(p99) / 1_000_000)
    }
}
