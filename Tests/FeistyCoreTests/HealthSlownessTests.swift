import Testing

@testable import FeistyCore

/// Slowness: the latency histogram, and per-route baselines that tell a slow instance from a slow app.
@Suite struct HealthSlownessTests {
    let t0 = ContinuousClock.now

    static func ms(_ milliseconds: Double) -> UInt64 { UInt64((milliseconds * 1_000_000).rounded()) }

    static func histogram(_ milliseconds: [Double]) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        for value in milliseconds { histogram.record(nanoseconds: ms(value)) }
        return histogram
    }

    // MARK: LatencyHistogram

    @Test func bucketsGrowGeometricallyFrom50MicrosecondsTo100Seconds() {
        let bounds = (0..<LatencyHistogram.bucketCount).map(LatencyHistogram.upperBound(ofBucket:))
        #expect(bounds.first == 50_000)
        #expect(bounds[62] == 100_000_000_000)
        #expect(bounds[63] == .max)
        for index in 1...62 {
            let ratio = Double(bounds[index]) / Double(bounds[index - 1])
            #expect(ratio > 1.26 && ratio < 1.27, "bucket \(index)")
        }
        // The counts are stored inline, not in an array: recording never allocates.
        #expect(MemoryLayout<LatencyHistogram>.size == 64 * 4 + 8 + 8)
    }

    @Test(arguments: [
        (UInt64(0), 0), (1, 0), (50_000, 0), (50_001, 1), (63_183, 1), (63_184, 2), (99_999_999_999, 62),
        (100_000_000_000, 62), (100_000_000_001, 63), (.max, 63),
    ])
    func findsTheBucket(_ nanoseconds: UInt64, _ bucket: Int) {
        #expect(LatencyHistogram.bucket(of: nanoseconds) == bucket)
    }

    @Test func everyBoundIsTheLastValueOfItsBucket() {
        for bucket in 0..<63 {
            let bound = LatencyHistogram.upperBound(ofBucket: bucket)
            #expect(LatencyHistogram.bucket(of: bound) == bucket)
            #expect(LatencyHistogram.bucket(of: bound + 1) == bucket + 1)
        }
    }

    struct QuantileCase: Sendable, CustomTestStringConvertible {
        var name: String
        var milliseconds: [Double]
        var q: Double
        /// The answer lies in this range (a bucket bound is an upper estimate, at most 26 % high).
        var expected: ClosedRange<UInt64>?
        var testDescription: String { name }
    }

    @Test(arguments: [
        QuantileCase(name: "empty", milliseconds: [], q: 0.95, expected: nil),
        QuantileCase(name: "one value is exact", milliseconds: [3], q: 0.95, expected: ms(3)...ms(3)),
        QuantileCase(
            name: "p95 of 95 fast and 5 slow is fast",
            milliseconds: Array(repeating: 1, count: 95) + Array(repeating: 1000, count: 5),
            q: 0.95,
            expected: ms(1)...ms(1.264)
        ),
        QuantileCase(
            name: "p96 of 95 fast and 5 slow is slow",
            milliseconds: Array(repeating: 1, count: 95) + Array(repeating: 1000, count: 5),
            q: 0.96,
            expected: ms(1000)...ms(1000)
        ),
        QuantileCase(
            name: "p95 of 1...1000 ms",
            milliseconds: (1...1000).map(Double.init),
            q: 0.95,
            expected: ms(950)...ms(950 * 1.264)
        ),
        QuantileCase(
            name: "p50 of 1...1000 ms",
            milliseconds: (1...1000).map(Double.init),
            q: 0.5,
            expected: ms(500)...ms(500 * 1.264)
        ),
        QuantileCase(
            name: "beyond 100 s the largest value",
            milliseconds: [200_000, 300_000],
            q: 0.5,
            expected: ms(300_000)...ms(300_000)
        ),
        QuantileCase(name: "q above 1 is the maximum", milliseconds: [1, 2, 7], q: 1.5, expected: ms(7)...ms(7)),
        QuantileCase(name: "q below 0 is the first bucket", milliseconds: [0.01, 2, 7], q: -1, expected: 0...50_000),
    ])
    func quantileIsTheBucketBound(_ testCase: QuantileCase) {
        let histogram = Self.histogram(testCase.milliseconds)
        #expect(histogram.count == testCase.milliseconds.count)
        let actual = histogram.quantile(testCase.q)
        if let expected = testCase.expected {
            #expect(actual.map(expected.contains) == true, "\(String(describing: actual))")
        } else {
            #expect(actual == nil)
        }
    }

    @Test func mergingEqualsRecordingEverythingInOne() {
        var first = Self.histogram([1, 2, 3, 40])
        let second = Self.histogram([0.5, 2, 900, 200_000])
        first.merge(second)
        #expect(first == Self.histogram([1, 2, 3, 40, 0.5, 2, 900, 200_000]))
        #expect(first.count == 8)
        #expect(first.maximum == Self.ms(200_000))
        first.merge(LatencyHistogram())
        #expect(first.count == 8)
    }

    @Test func aBucketSaturatesInsteadOfWrapping() {
        var histogram = Self.histogram([5])
        for _ in 0..<33 { histogram.merge(histogram) }  // 2^33 durations
        let bucket = LatencyHistogram.bucket(of: Self.ms(5))
        #expect(histogram.counts[bucket] == .max)
        #expect(histogram.count == 1 << 33)
        #expect(histogram.quantile(0.95) == Self.ms(5))
    }

    // MARK: SlownessWatch

    /// One call on the watch; each window advances the clock by 30 s.
    enum Step: Sendable {
        /// A window of `instance`: per rule, 50 responses (or `count`) each taking the given milliseconds.
        case window(instance: Int, rules: [Int: Double], count: Int = 50, expect: SlownessVerdict)
        case swapped(from: Int, to: Int)
        /// Time passes without windows.
        case wait(seconds: Int)
        case baseline(rule: Int, milliseconds: Double?)
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var steps: [Step]
        var testDescription: String { name }
    }

    static func slow(_ rule: Int, _ recent: Double, _ baseline: Double, count: Int = 50) -> SlownessVerdict {
        .slow(rule: rule, recentP95: ms(recent), baselineP95: ms(baseline), count: count)
    }

    static func slowAfterSwap(_ rule: Int, _ recent: Double, _ baseline: Double) -> SlownessVerdict {
        .slowAfterSwap(rule: rule, recentP95: ms(recent), baselineP95: ms(baseline), count: 50)
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "the first window seeds the baseline, a window 5x slower is slow",
            steps: [
                .baseline(rule: 0, milliseconds: nil),
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .baseline(rule: 0, milliseconds: 100),
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
            ]
        ),
        Scenario(
            name: "too few responses say nothing",
            steps: [
                .window(instance: 1, rules: [0: 2000], count: 19, expect: .normal),
                .baseline(rule: 0, milliseconds: nil),
                .window(instance: 1, rules: [0: 100], count: 20, expect: .normal),
                .window(instance: 1, rules: [0: 5000], count: 19, expect: .normal),
                .window(instance: 1, rules: [0: 5000], count: 20, expect: slow(0, 5000, 100, count: 20)),
            ]
        ),
        Scenario(
            name: "a swap that cures it",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
                .swapped(from: 1, to: 2),
                .window(instance: 2, rules: [0: 100], expect: .normal),
                .window(instance: 2, rules: [0: 500], expect: slow(0, 500, 100)),
            ]
        ),
        Scenario(
            name: "slow after the swap: keep the instance, no flapping until a normal window",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
                .swapped(from: 1, to: 2),
                .window(instance: 2, rules: [0: 500], expect: slowAfterSwap(0, 500, 100)),
                .window(instance: 2, rules: [0: 500], expect: .normal),
                .window(instance: 2, rules: [0: 600], expect: .normal),
                // Slow windows never entered the baseline.
                .baseline(rule: 0, milliseconds: 100),
                .window(instance: 2, rules: [0: 100], expect: .normal),
                .window(instance: 2, rules: [0: 500], expect: slow(0, 500, 100)),
            ]
        ),
        Scenario(
            name: "the baseline follows normal windows",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 200], expect: .normal),
                .baseline(rule: 0, milliseconds: 120),
                .window(instance: 1, rules: [0: 350], expect: .normal),  // below 3 x 120
                .baseline(rule: 0, milliseconds: 166),
                .window(instance: 1, rules: [0: 480], expect: .normal),  // below 3 x 166
                .baseline(rule: 0, milliseconds: 228.8),
                .window(instance: 1, rules: [0: 690], expect: slow(0, 690, 228.8)),
            ]
        ),
        Scenario(
            name: "a small absolute slowdown is not worth an instance",
            steps: [
                .window(instance: 1, rules: [0: 1], expect: .normal),
                .window(instance: 1, rules: [0: 40], expect: .normal),  // 40x, but only 39 ms more
                .window(instance: 1, rules: [7: 10], expect: .normal),
                .window(instance: 1, rules: [7: 59], expect: .normal),  // 5.9x, but only 49 ms more
                .window(instance: 1, rules: [7: 30], expect: .normal),
            ]
        ),
        Scenario(
            name: "rules and instances: one baseline per rule, fed by every instance",
            steps: [
                .window(instance: 1, rules: [0: 100, 1: 10], expect: .normal),
                .window(instance: 2, rules: [0: 200, 1: 10], expect: .normal),
                .baseline(rule: 0, milliseconds: 120),
                .baseline(rule: 1, milliseconds: 10),
                .window(instance: 2, rules: [0: 100, 1: 300], expect: slow(1, 300, 10)),
            ]
        ),
        Scenario(
            name: "other instances wait for the pending swap",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
                .window(instance: 2, rules: [0: 500], expect: .normal),
                .swapped(from: 1, to: 3),
                .window(instance: 2, rules: [0: 500], expect: .normal),
                .window(instance: 3, rules: [0: 500], expect: slowAfterSwap(0, 500, 100)),
            ]
        ),
        Scenario(
            name: "the worst rule is named and the swap answers for every slow rule",
            steps: [
                .window(instance: 1, rules: [0: 100, 1: 100, 2: 100], expect: .normal),
                .window(instance: 1, rules: [0: 400, 1: 900, 2: 100], expect: slow(1, 900, 100)),
                .swapped(from: 1, to: 2),
                .window(instance: 2, rules: [0: 400, 1: 100, 2: 100], expect: slowAfterSwap(0, 400, 100)),
                .window(instance: 2, rules: [0: 400, 1: 100, 2: 500], expect: slow(2, 500, 100)),
            ]
        ),
        Scenario(
            name: "a swap that never happened is forgotten after 10 windows",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
                .window(instance: 1, rules: [0: 500], expect: .normal),
                .wait(seconds: 240),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
            ]
        ),
        Scenario(
            name: "a replacement for another reason carries the verification",
            steps: [
                .window(instance: 1, rules: [0: 100], expect: .normal),
                .window(instance: 1, rules: [0: 500], expect: slow(0, 500, 100)),
                .swapped(from: 1, to: 2),
                .swapped(from: 2, to: 3),  // say instance 2 crashed
                .swapped(from: 7, to: 8),  // unrelated
                .window(instance: 2, rules: [0: 500], expect: .normal),
                .window(instance: 3, rules: [0: 500], expect: slowAfterSwap(0, 500, 100)),
            ]
        ),
    ]

    @Test(arguments: scenarios)
    func judgesWindows(_ scenario: Scenario) {
        var watch = SlownessWatch()
        var now = t0
        for (index, step) in scenario.steps.enumerated() {
            switch step {
            case .window(let instance, let rules, let count, let expected):
                now += .seconds(30)
                let perRule = rules.mapValues { Self.histogram(Array(repeating: $0, count: count)) }
                let actual = watch.windowEnded(instance: instance, perRule: perRule, now: now)
                #expect(actual == expected, "step \(index)")
            case .swapped(let old, let new):
                watch.swapped(from: old, to: new)
            case .wait(let seconds):
                now += .seconds(seconds)
            case .baseline(let rule, let milliseconds):
                #expect(watch.baselineP95(rule: rule) == milliseconds.map { Self.ms($0) }, "step \(index)")
            }
        }
    }

    @Test(arguments: [
        (slow(3, 1200, 120), "rule 3 slow: p95 1.2 s over 50 requests, usually 120 ms"),
        (
            slowAfterSwap(0, 0.85, 0.2),
            "rule 0 still slow on a new instance: p95 850 µs over 50 requests, usually 200 µs; "
                + "the cause is outside the instance, keeping it"
        ),
        (SlownessVerdict.normal, "response times normal"),
    ])
    func describesTheVerdict(_ verdict: SlownessVerdict, _ expected: String) {
        #expect(verdict.description == expected)
    }
}
