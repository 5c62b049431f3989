import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import FeistyCore

/// The traffic metrics: verdict names, per-loop tallies, the recent window, and the Prometheus text.
@Suite struct MetricsTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    /// A finished exchange: received at `at`, answered `latency` later (the app took `upstream` of it).
    func record(
        _ verdict: RouteGateDecision? = .forward(rule: 0),
        refusal: ProxyRefusal? = nil,
        guardVerdict: RequestVerdict? = nil,
        status: UInt = 200,
        at: NIODeadline? = nil,
        latency: TimeAmount = .milliseconds(10),
        upstream: TimeAmount? = .milliseconds(8)
    ) -> ExchangeRecord {
        let start = at ?? t0
        var record = ExchangeRecord(client: "192.0.2.1", method: .GET, target: "/", verdict: verdict, receivedAt: start)
        record.refusal = refusal
        record.guardVerdict = guardVerdict
        record.status = refusal.map { $0.status.code } ?? status
        if let upstream, refusal == nil {
            record.forwardedAt = start + (latency - upstream)
            record.respondedAt = start + latency
        }
        record.endedAt = start + latency
        record.requestBytes = 3
        record.responseBytes = 5
        return record
    }

    // MARK: verdict names

    static let verdictCases: [(RouteGateDecision?, ProxyRefusal?, RequestVerdict?, String)] = [
        (.forward(rule: 2), nil, nil, "forwarded"),
        (.forward(rule: 2), nil, .pass, "forwarded"),
        (.forward(rule: nil), nil, nil, "redirect"),
        (.notFound, nil, .forwardUndeclared, "forwarded_undeclared"),
        (.notFound, .routeNotFound, nil, "not_found"),
        (.notFound, .routeNotFound, .pass, "not_found"),
        (.notFound, .routeNotFound, .refuseUndeclared, "refused_undeclared"),
        (.methodNotAllowed(allowed: ["GET"]), .methodNotAllowed(allowed: ["GET"]), nil, "method_not_allowed"),
        (
            .methodNotAllowed(allowed: ["GET"]), .methodNotAllowed(allowed: ["GET"]), .refuseUndeclared,
            "refused_undeclared"
        ),
        (.badHost, .malformedRequest(reason: "bad host"), nil, "bad_request"),
        (nil, .malformedRequest(reason: "x"), nil, "bad_request"),
        (nil, .unsupportedTransferCoding(expected: "chunked"), nil, "bad_request"),
        (nil, .connectNotAllowed, nil, "bad_request"),
        (nil, .headerTooLarge, nil, "bad_request"),
        (.forward(rule: 1), .bodyTooLarge, nil, "bad_request"),
        (nil, .requestHeadTimeout, nil, "client_timeout"),
        (.forward(rule: 1), .requestBodyTimeout, nil, "client_timeout"),
        (.forward(rule: 1), .banned, .banned(closeSilently: false), "banned"),
        (.forward(rule: 1), .throttled(retryAfterSeconds: 3), .throttled(retryAfterSeconds: 3), "throttled"),
        (.forward(rule: 1), .appBusy, nil, "app_busy"),
        (nil, .appUnavailable, nil, "app_unavailable"),
        (.forward(rule: 1), .appCrashed, nil, "upstream_failed"),
        (.forward(rule: 1), .appHung, nil, "upstream_failed"),
        (.forward(rule: 1), .upstreamUnreachable, nil, "upstream_failed"),
        (.forward(rule: 1), .upstreamTimeout, nil, "upstream_failed"),
    ]

    @Test(arguments: verdictCases)
    func verdictNames(
        verdict: RouteGateDecision?,
        refusal: ProxyRefusal?,
        guardVerdict: RequestVerdict?,
        name: String
    ) {
        #expect(TrafficVerdict(record(verdict, refusal: refusal, guardVerdict: guardVerdict)).rawValue == name)
    }

    // MARK: tally

    @Test func aTallyCountsVerdictsStatusesRoutesBytesAndLatencies() {
        var tally = TrafficTally()
        tally.add(record(.forward(rule: 1), latency: .milliseconds(10), upstream: .milliseconds(8)))
        tally.add(record(.forward(rule: 1), latency: .milliseconds(20), upstream: .milliseconds(18)))
        tally.add(record(.forward(rule: 3), status: 500))
        tally.add(record(.notFound, refusal: .routeNotFound))
        tally.add(record(.forward(rule: 0), refusal: .throttled(retryAfterSeconds: 1)))
        tally.inFlight += 2
        tally.inFlight -= 1
        let status = tally.status(at: t0 + .seconds(1), queueDepth: 4)
        #expect(status.requests == 5)
        #expect(status.inFlight == 1)
        #expect(status.queueDepth == 4)
        #expect(status.byVerdict == ["forwarded": 3, "not_found": 1, "throttled": 1])
        #expect(status.byStatus == ["200": 2, "500": 1, "404": 1, "429": 1])
        // Route 0 matched the throttled request: a route counts every request matched to it.
        #expect(status.routes.map(\.requests) == [1, 2, 0, 1])
        #expect(status.routes.map(\.index) == [0, 1, 2, 3])
        #expect(status.routes[0].latencyMs == nil)  // never reached the app
        // Route 1's app latencies: 8 and 18 ms (rounded up to a bucket bound, never above the maximum).
        let route1 = try! #require(status.routes[1].latencyMs)
        #expect(route1.p50 >= 8 && route1.p50 < 8 * 1.27)
        #expect(route1.p99 == 18)
        #expect(status.latencyMs != nil && status.upstreamLatencyMs != nil)
        #expect(tally.refusals == ["not_found": 1, "throttled": 1])
        #expect(tally.requestBytes == 15 && tally.responseBytes == 25)
        #expect(tally.latency.total == 5)
        #expect(tally.upstream.total == 3)  // refusals never reached the app
    }

    @Test func theWaitForAnAppSlotCountsInTheClientsLatency() {
        var tally = TrafficTally()
        var waited = record(.forward(rule: 0), latency: .milliseconds(2), upstream: .milliseconds(1))
        waited.queueWait = .milliseconds(300)
        tally.add(waited)
        tally.add(record(.forward(rule: 0), latency: .milliseconds(2), upstream: .milliseconds(1)))
        #expect(tally.queueWait.total == 1)
        #expect(tally.queueWait.sums.reduce(0, +) == 300_000_000)
        #expect(tally.latency.sums.reduce(0, +) == 304_000_000)
        #expect(tally.upstream.sums.reduce(0, +) == 2_000_000)
    }

    @Test func aClientThatLeftBeforeAnyAnswerHasNoLatency() {
        var tally = TrafficTally()
        var gone = record(.forward(rule: 0), upstream: nil)
        gone.status = 0
        tally.add(gone)
        let status = tally.status(at: t0, queueDepth: 0)
        #expect(status.byStatus == ["0": 1])
        #expect(status.latencyMs == nil)
        #expect(tally.latency.total == 0)
    }

    @Test func tallysOfTwoLoopsMerge() {
        var first = TrafficTally()
        var second = TrafficTally()
        first.add(record(.forward(rule: 0)))
        second.add(record(.forward(rule: 2)))
        second.add(record(.forward(rule: 2)))
        first.inFlight = 1
        second.inFlight = 2
        first.merge(second, at: t0 + .seconds(1))
        let status = first.status(at: t0 + .seconds(1), queueDepth: 0)
        #expect(status.requests == 3)
        #expect(status.inFlight == 3)
        #expect(status.routes.map(\.requests) == [1, 0, 2])
        #expect(first.latency.total == 3)
    }

    // MARK: the recent window

    @Test func theWindowForgetsWhatIsOlderThanAMinute() {
        var recent = RecentLatency()
        recent.record(nanoseconds: 1_000_000, at: t0)
        #expect(recent.window(at: t0).count == 1)
        #expect(recent.window(at: t0 + .seconds(45)).count == 1)
        #expect(recent.window(at: t0 + .seconds(70)).count == 0)
        // A slot reused a turn of the ring later starts empty.
        recent.record(nanoseconds: 2_000_000, at: t0 + .seconds(60))
        let window = recent.window(at: t0 + .seconds(60))
        #expect(window.count == 1)
        #expect(window.maximum == 2_000_000)
    }

    @Test func mergingLeavesOutSlotsOutsideTheWindow() {
        var old = RecentLatency()
        old.record(nanoseconds: 1_000_000, at: t0)
        var fresh = RecentLatency()
        fresh.record(nanoseconds: 2_000_000, at: t0 + .seconds(65))
        var merged = RecentLatency()
        merged.merge(old, at: t0 + .seconds(65))
        merged.merge(fresh, at: t0 + .seconds(65))
        #expect(merged.window(at: t0 + .seconds(65)).count == 1)
    }

    // MARK: Prometheus buckets

    @Test func bucketGrowthReplaysExactCountsAndSums() {
        var before = DurationBuckets()
        before.record(nanoseconds: 300_000)
        var after = before
        after.record(nanoseconds: 600_000)
        after.record(nanoseconds: 700_000)
        after.record(nanoseconds: 800_001)
        after.record(nanoseconds: 40_000_000_000)
        let replay = after.growth(since: before)
        #expect(replay.reduce(0) { $0 + $1.count } == 4)
        #expect(replay.reduce(Int64(0)) { $0 + $1.nanoseconds * Int64($1.count) } == 2_100_001 + 40_000_000_000)
        // Each replayed duration lies in the bucket its originals were in.
        for (nanoseconds, _) in replay {
            #expect((500_001...1_000_000).contains(nanoseconds) || nanoseconds > 30_000_000_000)
        }
        #expect(after.growth(since: after).isEmpty)
    }

    // MARK: lifecycle

    @Test func lifecycleEventsCountRestartsSwapsAndInstanceStates() {
        var tally = LifecycleTally()
        for event in [
            LifecycleEvent(.start, instance: 1, cause: "first"),
            LifecycleEvent(.ready, instance: 1, cause: "ready"),
            LifecycleEvent(.start, instance: 2, cause: "standby"),
            LifecycleEvent(.ready, instance: 2, cause: "ready"),
            LifecycleEvent(.crash, instance: 1, cause: "exited with status 1"),
            LifecycleEvent(.swap, instance: 2, cause: "standby 2 replaces 1"),
            LifecycleEvent(.start, instance: 3, cause: "standby"),
            LifecycleEvent(.deploy, instance: nil, cause: "deploying"),
            LifecycleEvent(.swap, instance: 3, cause: "instance 3 replaces 2"),
            LifecycleEvent(.memory, instance: 3, cause: "600 MB"),
        ] {
            tally.add(event)
        }
        #expect(tally.restarts == [.crash: 1, .memory: 1])
        #expect(tally.swaps == ["crash": 1, "deploy": 1])
        #expect(tally.events[.start] == 3)
        #expect(tally.instancesByState == ["starting": 0, "ready": 1, "draining": 1, "stopping": 0])
    }

    @Test func faultsAreTimedFromDetectionToTheNextReadyInstance() {
        let start = Date(timeIntervalSince1970: 1_000)
        var tally = LifecycleTally()
        tally.add(LifecycleEvent(.ready, instance: 1, cause: "ready", at: start))
        // A hang silent for 2 s, then a crash of the replacement before it is ready: both recover at its ready.
        let hang = LifecycleEvent(.hang, instance: 1, cause: "silent", at: start + 10, detectedAfter: .seconds(2))
        #expect(tally.add(hang) == [.init(measure: .detection, cause: .hang, duration: .seconds(2))])
        #expect(tally.add(LifecycleEvent(.start, instance: 2, cause: "replaces 1", at: start + 10)) == [])
        #expect(tally.add(LifecycleEvent(.crash, instance: 2, cause: "exit 1", at: start + 11)) == [])
        #expect(tally.add(LifecycleEvent(.recycle, instance: 3, cause: "planned", at: start + 11)) == [])
        #expect(
            tally.add(LifecycleEvent(.ready, instance: 3, cause: "ready", at: start + 13.5)) == [
                .init(measure: .recovery, cause: .hang, duration: .seconds(3.5)),
                .init(measure: .recovery, cause: .crash, duration: .seconds(2.5)),
            ]
        )
        // Recovered faults are not counted again.
        #expect(tally.add(LifecycleEvent(.swap, instance: 3, cause: "3 replaces 2", at: start + 14)) == [])
    }
}

/// `FeistyMetrics` end to end without sockets: observers on a real event loop, the rendered text.
@Suite struct FeistyMetricsTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// Hands `records` to the metrics' observer of one loop, on that loop.
    func feed(_ metrics: FeistyMetrics, _ records: [ExchangeRecord], inFlight: Int = 0) async throws {
        let loop = group.next()
        let observers = metrics.makeObservers(on: loop)
        try await loop.submit {
            for observer in observers {
                for record in records { observer.exchangeEnded(record) }
                observer.inFlightChanged(by: inFlight)
            }
        }.get()
    }

    func record(_ verdict: RouteGateDecision, status: UInt, refusal: ProxyRefusal? = nil) -> ExchangeRecord {
        let now = NIODeadline.now()
        var record = ExchangeRecord(client: "192.0.2.1", method: .GET, target: "/", verdict: verdict, receivedAt: now)
        record.status = status
        record.refusal = refusal
        if refusal == nil {
            record.forwardedAt = now + .milliseconds(1)
            record.respondedAt = now + .milliseconds(3)
        }
        record.endedAt = now + .milliseconds(4)
        return record
    }

    /// The value of the sample `series` (name with labels, exactly as rendered), if present.
    func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func theTextHasEveryFamilyWithTheRightValues() async throws {
        let metrics = FeistyMetrics()
        try await feed(
            metrics,
            [
                record(.forward(rule: 0), status: 200),
                record(.forward(rule: 0), status: 200),
                record(.notFound, status: 404, refusal: .routeNotFound),
                record(.forward(rule: 1), status: 429, refusal: .throttled(retryAfterSeconds: 2)),
            ],
            inFlight: 2
        )
        try await feed(metrics, [record(.forward(rule: 1), status: 201)])
        metrics.lifecycleEventRecorded(LifecycleEvent(.start, instance: 1, cause: "first"))
        metrics.lifecycleEventRecorded(LifecycleEvent(.ready, instance: 1, cause: "ready"))
        metrics.lifecycleEventRecorded(LifecycleEvent(.hang, instance: 1, cause: "silent", detectedAfter: .seconds(3)))
        let text = await metrics.prometheusText()
        #expect(sample(text, #"feisty_requests_total{verdict="forwarded",status="200"}"#) == 2)
        #expect(sample(text, #"feisty_requests_total{verdict="forwarded",status="201"}"#) == 1)
        #expect(sample(text, #"feisty_requests_total{verdict="not_found",status="404"}"#) == 1)
        #expect(sample(text, #"feisty_requests_total{verdict="throttled",status="429"}"#) == 1)
        #expect(sample(text, #"feisty_refused_total{reason="not_found"}"#) == 1)
        #expect(sample(text, "feisty_throttled_total") == 1)
        #expect(sample(text, "feisty_requests_in_flight") == 2)
        #expect(sample(text, "feisty_request_duration_seconds_count") == 5)
        #expect(sample(text, "feisty_upstream_duration_seconds_count") == 3)
        #expect(sample(text, "feisty_queue_wait_seconds_count") == 0)
        // Forwarded: head to response head 3 ms; refused: to the end, 4 ms. All under 5 ms, none under 2.5 ms.
        #expect(sample(text, #"feisty_request_duration_seconds_bucket{le="0.0025"}"#) == 0)
        #expect(sample(text, #"feisty_request_duration_seconds_bucket{le="0.005"}"#) == 5)
        let sum = try #require(sample(text, "feisty_request_duration_seconds_sum"))
        #expect(abs(sum - 0.017) < 1e-9)
        #expect(sample(text, #"feisty_restarts_total{cause="hang"}"#) == 1)
        #expect(sample(text, #"feisty_detection_seconds_bucket{cause="hang",le="2.5"}"#) == 0)
        #expect(sample(text, #"feisty_detection_seconds_bucket{cause="hang",le="5.0"}"#) == 1)
        #expect(sample(text, #"feisty_detection_seconds_sum{cause="hang"}"#) == 3)
        #expect(sample(text, #"feisty_lifecycle_events_total{kind="start"}"#) == 1)
        #expect(sample(text, #"feisty_instances{state="stopping"}"#) == 1)
        #expect(sample(text, #"feisty_instances{state="ready"}"#) == 0)
        #expect(sample(text, "feisty_queue_depth") == 0)
        #expect(sample(text, "feisty_open_connections") == 0)
        #expect(sample(text, "feisty_bans_active") == 0)
        #expect((sample(text, "feisty_process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect(text.contains("# TYPE feisty_request_duration_seconds histogram"))
    }

    @Test func aSecondScrapeAddsOnlyWhatIsNew() async throws {
        let metrics = FeistyMetrics()
        try await feed(metrics, [record(.forward(rule: 0), status: 200)])
        _ = await metrics.prometheusText()
        try await feed(metrics, [record(.forward(rule: 0), status: 200)])
        let text = await metrics.prometheusText()
        #expect(sample(text, #"feisty_requests_total{verdict="forwarded",status="200"}"#) == 2)
        #expect(sample(text, "feisty_request_duration_seconds_count") == 2)
        let status = await metrics.trafficStatus()
        #expect(status.requests == 2)
        #expect(status.byVerdict == ["forwarded": 2])
        #expect(status.routes.map(\.requests) == [2])
    }

    @Test func labelValuesAreEscaped() async throws {
        let metrics = FeistyMetrics()
        metrics.attach(instanceStates: { [#"odd "state"\ "#: 1] })
        let text = await metrics.prometheusText()
        #expect(text.contains(#"feisty_instances{state="odd \"state\"\\ "} 1"#))
    }

    @Test func twoMetricsInOneProcessAreIndependent() async throws {
        let first = FeistyMetrics()
        let second = FeistyMetrics()
        try await feed(first, [record(.forward(rule: 0), status: 200)])
        let text = await second.prometheusText()
        #expect(sample(text, #"feisty_requests_total{verdict="forwarded",status="200"}"#) == nil)
        #expect(await first.trafficStatus().requests == 1)
    }
}
