import NIOCore

/// One event loop's traffic counts since feisty started (and its recent latencies); merged over the loops at scrape
/// time. A plain value: the loop's observer mutates it in place, a scrape copies it on the loop.
package struct TrafficTally: Sendable {
    /// A verdict and the status sent: one series of `feisty_requests_total`.
    struct Outcome: Hashable, Sendable {
        var verdict: TrafficVerdict
        var status: UInt
    }

    /// One rule's requests and the app's recent latency on it.
    struct RouteTally: Sendable {
        var requests = 0
        var recentUpstream = RecentLatency()
    }

    /// Exchanges started minus exchanges that stopped being in flight.
    var inFlight = 0
    /// Ended exchanges by verdict and status.
    var outcomes: [Outcome: Int] = [:]
    /// Answers feisty gave itself, by ``ProxyRefusal/logLabel``.
    var refusals: [String: Int] = [:]
    /// Request and response body bytes.
    var requestBytes: Int64 = 0
    var responseBytes: Int64 = 0
    /// Client side: request head parsed to response head sent (the wait for an app slot included).
    var latency = DurationBuckets()
    var recentLatency = RecentLatency()
    /// The app: request forwarded to its response head.
    var upstream = DurationBuckets()
    var recentUpstream = RecentLatency()
    /// The wait for an app slot, of the requests that waited.
    var queueWait = DurationBuckets()
    /// Per rule index of the route table.
    var routes: [RouteTally] = []

    /// Ended exchanges.
    package var requests: Int { outcomes.values.reduce(0, +) }

    /// An empty tally.
    package init() {}

    /// Counts a finished exchange.
    package mutating func add(_ record: ExchangeRecord) {
        outcomes[Outcome(verdict: TrafficVerdict(record), status: record.status), default: 0] += 1
        if let refusal = record.refusal { refusals[refusal.logLabel, default: 0] += 1 }
        requestBytes &+= record.requestBytes
        responseBytes &+= record.responseBytes
        let ended = record.endedAt ?? record.respondedAt ?? record.receivedAt
        // A client that left before any answer has no latency to report.
        if record.status != 0, let answered = record.respondedAt ?? record.endedAt {
            let nanoseconds = (answered - record.receivedAt).nanoseconds + (record.queueWait?.nanoseconds ?? 0)
            latency.record(nanoseconds: nanoseconds)
            recentLatency.record(nanoseconds: UInt64(max(0, nanoseconds)), at: ended)
        }
        if let queueWait = record.queueWait { self.queueWait.record(nanoseconds: queueWait.nanoseconds) }
        let upstreamNanoseconds = record.upstreamLatency.map { UInt64(max(0, $0.nanoseconds)) }
        if let upstreamNanoseconds {
            upstream.record(nanoseconds: Int64(upstreamNanoseconds))
            recentUpstream.record(nanoseconds: upstreamNanoseconds, at: ended)
        }
        if let rule = record.rule, rule >= 0 {
            if rule >= routes.count {
                routes.append(contentsOf: repeatElement(RouteTally(), count: rule + 1 - routes.count))
            }
            routes[rule].requests += 1
            if let upstreamNanoseconds {
                routes[rule].recentUpstream.record(nanoseconds: upstreamNanoseconds, at: ended)
            }
        }
    }

    /// Adds another loop's tally; recent latencies outside the window ending at `now` are left out.
    mutating func merge(_ other: TrafficTally, at now: NIODeadline) {
        inFlight += other.inFlight
        outcomes.merge(other.outcomes, uniquingKeysWith: +)
        refusals.merge(other.refusals, uniquingKeysWith: +)
        requestBytes &+= other.requestBytes
        responseBytes &+= other.responseBytes
        latency.merge(other.latency)
        recentLatency.merge(other.recentLatency, at: now)
        upstream.merge(other.upstream)
        queueWait.merge(other.queueWait)
        recentUpstream.merge(other.recentUpstream, at: now)
        if other.routes.count > routes.count {
            routes.append(contentsOf: repeatElement(RouteTally(), count: other.routes.count - routes.count))
        }
        for (index, route) in other.routes.enumerated() {
            routes[index].requests += route.requests
            routes[index].recentUpstream.merge(route.recentUpstream, at: now)
        }
    }

    /// The `traffic` and `routes` of `/status` (`queueDepth` is the caller's: it is not per loop).
    func status(at now: NIODeadline, queueDepth: Int) -> TrafficStatus {
        var byVerdict: [String: Int] = [:]
        var byStatus: [String: Int] = [:]
        for (outcome, count) in outcomes {
            byVerdict[outcome.verdict.rawValue, default: 0] += count
            byStatus[String(outcome.status), default: 0] += count
        }
        return TrafficStatus(
            requests: requests,
            inFlight: max(0, inFlight),
            queueDepth: queueDepth,
            byVerdict: byVerdict,
            byStatus: byStatus,
            latencyMs: TrafficStatus.Percentiles(recentLatency.window(at: now)),
            upstreamLatencyMs: TrafficStatus.Percentiles(recentUpstream.window(at: now)),
            routes: routes.enumerated().map { index, route in
                TrafficStatus.RouteTraffic(
                    index: index,
                    requests: route.requests,
                    latencyMs: TrafficStatus.Percentiles(route.recentUpstream.window(at: now))
                )
            }
        )
    }
}
