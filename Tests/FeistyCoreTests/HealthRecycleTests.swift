import Testing

@testable import FeistyCore

/// A seeded, reproducible generator (SplitMix64), so jittered limits can be checked exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Preventive recycling: jittered per-instance limits and the reason an instance reached one.
@Suite struct HealthRecycleTests {
    @Test func splitMixMatchesItsReferenceOutput() {
        // The first outputs of SplitMix64 seeded with 0, from the reference implementation.
        var generator = SplitMix64(seed: 0)
        #expect(
            [generator.next(), generator.next(), generator.next()]
                == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]
        )
    }

    @Test(arguments: [UInt64(1), 2, 42, 0xDEAD_BEEF])
    func jitteredLimitsStayWithinTheirRange(_ seed: UInt64) throws {
        let policy = RecyclePolicy(maxRequests: 1000, maxAge: .seconds(3600), jitter: 0.1)
        var generator = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let limits = policy.limits(using: &generator)
            let requests = try #require(limits.requests)
            let age = try #require(limits.age)
            // The configured values are minimums: no instance recycles earlier than asked.
            #expect((1000...1100).contains(requests))
            #expect(age >= .seconds(3600) && age <= .seconds(3960))
        }
    }

    @Test func instancesGetDifferentLimits() {
        let policy = RecyclePolicy(maxRequests: 1000, maxAge: .seconds(3600), jitter: 0.1)
        var generator = SplitMix64(seed: 7)
        let drawn = (0..<200).map { _ in policy.limits(using: &generator) }
        let requests = drawn.compactMap(\.requests)
        let ages = drawn.compactMap(\.age)
        // 101 possible request limits: 200 draws cover most of them, from both ends of the range.
        #expect(Set(requests).count > 60)
        #expect(requests.min()! <= 1010 && requests.max()! >= 1090)
        #expect(Set(ages).count > 190)
        #expect(ages.min()! <= .seconds(3636) && ages.max()! >= .seconds(3924))
    }

    @Test func theSameSeedDrawsTheSameLimits() {
        let policy = RecyclePolicy(maxRequests: 500, maxAge: .seconds(60))
        var first = SplitMix64(seed: 99)
        var second = SplitMix64(seed: 99)
        let a = (0..<10).map { _ in policy.limits(using: &first) }
        let b = (0..<10).map { _ in policy.limits(using: &second) }
        #expect(a == b)
    }

    struct PolicyCase: Sendable, CustomTestStringConvertible {
        var maxRequests: Int?
        var maxAge: Duration?
        var jitter: Double
        var expected: RecycleLimits
        var testDescription: String { "\(String(describing: maxRequests)) \(String(describing: maxAge)) ±\(jitter)" }
    }

    @Test(arguments: [
        // No jitter: the limits as configured.
        PolicyCase(
            maxRequests: 1000,
            maxAge: .seconds(60),
            jitter: 0,
            expected: .init(requests: 1000, age: .seconds(60))
        ),
        // Negative jitter counts as none.
        PolicyCase(maxRequests: 5, maxAge: nil, jitter: -1, expected: .init(requests: 5, age: nil)),
        PolicyCase(
            maxRequests: nil,
            maxAge: .seconds(5),
            jitter: .nan,
            expected: .init(requests: nil, age: .seconds(5))
        ),
        // Zero or less means no limit, as gunicorn's --max-requests 0.
        PolicyCase(maxRequests: 0, maxAge: .zero, jitter: 0.1, expected: .init(requests: nil, age: nil)),
        PolicyCase(maxRequests: -3, maxAge: .seconds(-1), jitter: 0.1, expected: .init(requests: nil, age: nil)),
        PolicyCase(maxRequests: nil, maxAge: nil, jitter: 0.5, expected: .init(requests: nil, age: nil)),
        // 10 % of 5 rounds down to 0: no room for jitter on such a small limit.
        PolicyCase(maxRequests: 5, maxAge: nil, jitter: 0.1, expected: .init(requests: 5, age: nil)),
    ])
    func limitsWithoutRoomForJitter(_ testCase: PolicyCase) {
        let policy = RecyclePolicy(maxRequests: testCase.maxRequests, maxAge: testCase.maxAge, jitter: testCase.jitter)
        var generator = SplitMix64(seed: 1)
        #expect(policy.limits(using: &generator) == testCase.expected)
        #expect(policy.isEnabled == (testCase.expected.requests != nil || testCase.expected.age != nil))
    }

    @Test func jitterIsClampedToDoubleTheLimit() {
        let policy = RecyclePolicy(maxRequests: 10, maxAge: .seconds(10), jitter: 5)
        #expect(policy.jitter == 1)
        var generator = SplitMix64(seed: 3)
        for _ in 0..<100 {
            let limits = policy.limits(using: &generator)
            #expect((10...20).contains(limits.requests!))
            #expect(limits.age! >= .seconds(10) && limits.age! <= .seconds(20))
        }
        // A limit near Int.max saturates instead of overflowing.
        let huge = RecyclePolicy(maxRequests: Int.max - 1, maxAge: nil, jitter: 1)
        #expect(huge.limits(using: &generator).requests! >= Int.max - 1)
    }

    struct ReasonCase: Sendable {
        var limits: RecycleLimits
        var served: Int
        var age: Duration
        var expected: RecycleReason?
    }

    @Test(arguments: [
        ReasonCase(limits: .init(requests: 100, age: .seconds(60)), served: 99, age: .seconds(59), expected: nil),
        ReasonCase(
            limits: .init(requests: 100, age: .seconds(60)),
            served: 100,
            age: .seconds(1),
            expected: .servedRequests(100, limit: 100)
        ),
        ReasonCase(
            limits: .init(requests: 100, age: .seconds(60)),
            served: 3,
            age: .seconds(60),
            expected: .reachedAge(.seconds(60), limit: .seconds(60))
        ),
        // Both reached: the request count is named.
        ReasonCase(
            limits: .init(requests: 100, age: .seconds(60)),
            served: 150,
            age: .seconds(90),
            expected: .servedRequests(150, limit: 100)
        ),
        ReasonCase(limits: .init(requests: nil, age: nil), served: .max, age: .seconds(1_000_000), expected: nil),
        ReasonCase(
            limits: .init(requests: nil, age: .milliseconds(1500)),
            served: 10_000,
            age: .milliseconds(1600),
            expected: .reachedAge(.milliseconds(1600), limit: .milliseconds(1500))
        ),
        ReasonCase(limits: .init(requests: 7, age: nil), served: 6, age: .seconds(86400), expected: nil),
    ])
    func reasonNamesTheReachedLimit(_ testCase: ReasonCase) {
        #expect(testCase.limits.reason(served: testCase.served, age: testCase.age) == testCase.expected)
    }

    @Test(arguments: [
        (RecycleReason.servedRequests(1043, limit: 1043), "served 1043 requests (its --max-requests limit: 1043)"),
        (
            RecycleReason.reachedAge(.milliseconds(3_600_500), limit: .seconds(3600)),
            "ran for 3600.5 s (its --max-age limit: 3600 s)"
        ),
    ])
    func describesTheReason(_ reason: RecycleReason, _ expected: String) {
        #expect(reason.description == expected)
    }
}
