import Foundation
import NIOCore
import Testing

@testable import FeistyCore

/// The metrics of a real proxy on a real socket in front of the Werkzeug fixture, driven by curl.
@Suite(.serialized) struct MetricsIntegrationTests {
    /// Polls `metrics.trafficStatus()` until `condition` holds (or 20 s pass), returning the last status.
    func status(
        of metrics: FeistyMetrics,
        until condition: (TrafficStatus) -> Bool
    ) async throws -> TrafficStatus {
        let deadline = ContinuousClock.now + .seconds(20)
        var status = await metrics.trafficStatus()
        while !condition(status), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            status = await metrics.trafficStatus()
        }
        return status
    }

    @Test func requestsAreCountedByVerdictStatusAndRoute() async throws {
        let metrics = FeistyMetrics()
        try await withProxyTestBed(metrics: metrics) { bed, _ in
            #expect(try await curl("\(bed.base)/hello/world") == "hello world")
            #expect(try await curl("\(bed.base)/count") != "")
            #expect(try await curl("\(bed.base)/nowhere", "-w", "%{http_code}").hasSuffix("404"))
            #expect(try await curl("\(bed.base)/count", "-X", "POST", "-w", "%{http_code}").hasSuffix("405"))
            let status = try await status(of: metrics) { $0.requests >= 4 }
            #expect(status.requests == 4)
            #expect(status.byVerdict == ["forwarded": 2, "not_found": 1, "method_not_allowed": 1])
            #expect(status.byStatus == ["200": 2, "404": 1, "405": 1])
            #expect(status.routes.prefix(2).map(\.requests) == [1, 1])
            #expect(status.latencyMs != nil)
            #expect(status.upstreamLatencyMs != nil)
            #expect(status.inFlight == 0)
            let text = await metrics.prometheusText()
            #expect(text.contains(#"feisty_requests_total{verdict="forwarded",status="200"} 2"#))
            #expect(text.contains(#"feisty_requests_total{verdict="not_found",status="404"} 1"#))
            #expect(text.contains("feisty_upstream_duration_seconds_count 2"))
            #expect(text.contains("feisty_request_duration_seconds_count 4"))
        }
    }

    @Test func aRequestWaitingForAnAppSlotIsQueuedAndItsWaitMeasured() async throws {
        let metrics = FeistyMetrics()
        try await withProxyTestBed(
            {
                $0.appConcurrency = 1
                $0.queueTimeout = .seconds(20)
            },
            metrics: metrics
        ) { bed, _ in
            // Six seconds: the suite runs in parallel on few cores, and the polls below must see it in flight.
            async let first = curl("\(bed.base)/slow/6")
            _ = try await status(of: metrics) { $0.inFlight == 1 }
            async let second = curl("\(bed.base)/slow/0")
            // Queue depth is read from the admission queue, in flight from the loops' tallies: wait for both.
            let waiting = try await status(of: metrics) { $0.queueDepth == 1 && $0.inFlight == 2 }
            #expect(waiting.queueDepth == 1)
            #expect(waiting.inFlight == 2)  // the waiting head counts as in flight
            // Scraped while the second request still waits (rendered from the same sources a moment later).
            var scraped = await metrics.prometheusText()
            let deadline = ContinuousClock.now + .seconds(3)
            while !scraped.contains("feisty_queue_depth 1"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                scraped = await metrics.prometheusText()
            }
            #expect(scraped.contains("feisty_queue_depth 1"))
            #expect(try await first == "slow")
            #expect(try await second == "slow")
            _ = try await status(of: metrics) { $0.requests == 2 }
            let text = await metrics.prometheusText()
            #expect(text.contains("feisty_queue_wait_seconds_count 1"))
            #expect(text.contains("feisty_queue_depth 0"))
        }
    }

    @Test func aSlowRequestIsInFlightUntilItEnds() async throws {
        let metrics = FeistyMetrics()
        try await withProxyTestBed(metrics: metrics) { bed, _ in
            async let slow = curl("\(bed.base)/slow/1.5")
            let during = try await status(of: metrics) { $0.inFlight == 1 }
            #expect(during.inFlight == 1)
            #expect(during.requests == 0)
            #expect(try await slow == "slow")
            let after = try await status(of: metrics) { $0.requests == 1 }
            #expect(after.inFlight == 0)
            #expect(await metrics.prometheusText().contains("feisty_open_connections 0"))
        }
    }
}
