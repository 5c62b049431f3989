import Testing

@testable import FeistyCore

private func client(_ number: Int) -> ClientKey {
    ClientKey(client: "10.\(number >> 16 & 255).\(number >> 8 & 255).\(number & 255)")!
}

private func ms(_ milliseconds: Int) -> Duration { .milliseconds(milliseconds) }

@Suite struct ThrottleBucketTests {
    /// (rate, burst, request times in ms, expected: 0 = allowed, n = throttled with Retry-After n seconds).
    @Test(
        arguments: [
            (1.0, 3, [0, 0, 0, 0], [0, 0, 0, 1]),
            (1.0, 3, [0, 0, 0, 500, 1000, 1000], [0, 0, 0, 1, 0, 1]),
            (0.1, 1, [0, 1000, 10_000], [0, 9, 0]),
            (10.0, 5, [0, 0, 0, 0, 0, 0, 100], [0, 0, 0, 0, 0, 1, 0]),
            (2.0, 2, [0, 0, 0, 100_000, 100_000, 100_000], [0, 0, 1, 0, 0, 1]),
            (0.25, 2, [0, 0, 0], [0, 0, 4]),
            (1.0, 1, [10_000, 5000], [0, 6]),
            (1.0, 0, [0, 0], [0, 1]),
        ]
    )
    func refillBurstAndRetryAfter(rate: Double, burst: Int, times: [Int], expected: [Int]) {
        var bucket = TokenBucket(rate: rate, burst: burst)
        let decisions = times.map { bucket.take(at: ms($0)) }
        #expect(decisions.map { $0.retryAfterSeconds ?? 0 } == expected)
    }

    @Test(
        arguments: [
            (Duration.zero, 1), (.nanoseconds(1), 1), (.seconds(1), 1), (.seconds(1) + .nanoseconds(1), 2),
            (.milliseconds(2500), 3), (.seconds(120), 120),
        ]
    )
    func retryAfterIsWholeSecondsAtLeastOne(wait: Duration, seconds: Int) {
        #expect(TokenBucket.wholeSeconds(wait) == .seconds(seconds))
    }

    @Test func refillNeverExceedsBurst() {
        var bucket = TokenBucket(rate: 100, burst: 3)
        #expect(bucket.isFull(at: .zero))
        _ = bucket.take(at: .seconds(1))
        #expect(!bucket.isFull(at: .seconds(1)))
        #expect(bucket.isFull(at: .seconds(1) + .milliseconds(10)))
        // An hour of silence still buys only `burst` requests at once.
        let burst = (0..<5).map { _ in bucket.take(at: .seconds(3600)) }
        #expect(burst.prefix(3).allSatisfy { $0 == .allow })
        #expect(burst.suffix(2).allSatisfy { $0 == .throttle(retryAfter: .seconds(1)) })
    }
}

@Suite struct ThrottleLimiterTests {
    @Test func clientsHaveTheirOwnBuckets() {
        let limiter = ClientRateLimiter(rate: 1, burst: 2)
        #expect(limiter.check(client(1), at: .zero) == .allow)
        #expect(limiter.check(client(1), at: .zero) == .allow)
        #expect(limiter.check(client(1), at: .zero) == .throttle(retryAfter: .seconds(1)))
        #expect(limiter.check(client(2), at: .zero) == .allow)
        #expect(limiter.check(client(1), at: .seconds(1)) == .allow)
    }

    @Test(arguments: [(64, 4), (100, 16), (1, 1), (1000, 16)])
    func memoryIsBounded(maxClients: Int, shards: Int) {
        let limiter = ClientRateLimiter(rate: 1, burst: 5, maxClients: maxClients, shards: shards)
        for number in 0..<20_000 { _ = limiter.check(client(number), at: .milliseconds(number)) }
        #expect(limiter.trackedClients <= limiter.maxClients)
        #expect(limiter.maxClients < maxClients + shards)
    }

    @Test func fullBucketsAreForgottenFirst() {
        let limiter = ClientRateLimiter(rate: 1, burst: 1, maxClients: 16, shards: 1)
        for number in 0..<16 { _ = limiter.check(client(number), at: .zero) }
        #expect(limiter.trackedClients == 16)
        // At 100 s every bucket is full again: the newcomer makes room by forgetting them all.
        #expect(limiter.check(client(99), at: .seconds(100)) == .allow)
        #expect(limiter.trackedClients == 1)
    }

    @Test func aFloodOfNewAddressesDoesNotResetAThrottledClient() {
        let limiter = ClientRateLimiter(rate: 1, burst: 3, maxClients: 64, shards: 1)
        let heavy = client(0xFFFF)
        for _ in 0..<10 { _ = limiter.check(heavy, at: .zero) }
        // Each newcomer takes one token (full again in 1 s); the heavy client is 3 s from full: it is kept.
        for number in 0..<10_000 { _ = limiter.check(client(number), at: .zero) }
        #expect(limiter.check(heavy, at: .zero) == .throttle(retryAfter: .seconds(1)))
    }

    @Test func concurrentChecksCountEveryToken() async {
        let limiter = ClientRateLimiter(rate: 0.001, burst: 1000, shards: 4)
        let allowed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (0..<500).reduce(0) { count, number in
                        count + (limiter.check(client(number % 4), at: .zero) == .allow ? 1 : 0)
                    }
                }
            }
            return await group.reduce(0, +)
        }
        // Four clients, 1000 tokens each, 4000 requests: every one allowed, the next one of each throttled.
        #expect(allowed == 4000)
        #expect((0..<4).allSatisfy { limiter.check(client($0), at: .zero) != .allow })
    }
}

@Suite struct ThrottleConnectionTests {
    @Test(arguments: [1, 2, 5])
    func refusedAtTheLimit(max: Int) {
        let counter = ConnectionCounter(max: max)
        #expect((0..<max).allSatisfy { _ in counter.open(client(1)) })
        #expect(!counter.open(client(1)))
        #expect(counter.open(client(2)))
        #expect(counter.openConnections(of: client(1)) == max)
        counter.close(client(1))
        #expect(counter.open(client(1)))
        #expect(!counter.open(client(1)))
    }

    @Test func clientsAreForgottenAtZero() {
        let counter = ConnectionCounter(max: 3, shards: 2)
        for number in 0..<100 {
            #expect(counter.open(client(number)))
            #expect(counter.open(client(number)))
        }
        #expect(counter.trackedClients == 100)
        for number in 0..<100 {
            counter.close(client(number))
            counter.close(client(number))
        }
        #expect(counter.trackedClients == 0)
        counter.close(client(7))  // Unpaired: ignored, no negative count.
        #expect(counter.openConnections(of: client(7)) == 0)
        #expect(counter.open(client(7)))
    }

    @Test func concurrentOpensNeverExceedTheLimit() async {
        let counter = ConnectionCounter(max: 10)
        let opened = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<100).reduce(0) { count, _ in count + (counter.open(client(3)) ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(opened == 10)
        #expect(counter.openConnections(of: client(3)) == 10)
    }
}

@Suite struct ThrottlePriorityClassTests {
    @Test(
        arguments: [
            (true, 0, false, PriorityClass.priority), (true, 3, true, .priority), (false, 0, true, .clean),
            (false, 0, false, .unknown), (false, 1, true, .struck), (false, 2, false, .struck),
        ]
    )
    func classification(isPriorityPeer: Bool, strikes: Int, hasHistory: Bool, expected: PriorityClass) {
        #expect(PriorityClass.of(isPriorityPeer: isPriorityPeer, strikes: strikes, hasHistory: hasHistory) == expected)
    }

    @Test(
        arguments: [
            (true, true, PriorityClass.priority), (false, true, .struck), (false, false, .clean),
        ]
    )
    func aClientWithARequestWaitingAlreadyQueuesLast(
        isPriorityPeer: Bool,
        alreadyWaiting: Bool,
        expected: PriorityClass
    ) {
        let found = PriorityClass.of(
            isPriorityPeer: isPriorityPeer,
            strikes: 0,
            hasHistory: true,
            alreadyWaiting: alreadyWaiting
        )
        #expect(found == expected)
    }

    @Test func orderIsPriorityCleanUnknownStruck() {
        #expect(PriorityClass.allCases.sorted() == [.priority, .clean, .unknown, .struck])
        #expect(PriorityClass.allCases.map(\.description) == ["priority", "clean", "unknown", "struck"])
    }
}
