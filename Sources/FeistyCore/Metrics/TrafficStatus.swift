/// What the proxy's traffic looked like, merged over every event loop: the `traffic` and `routes` parts of the
/// admin listener's `/status`. Counters are cumulative since feisty started; percentiles cover a recent window.
public struct TrafficStatus: Sendable, Codable, Equatable {
    /// Requests whose exchange ended.
    public var requests: Int
    /// Requests received and not yet ended.
    public var inFlight: Int
    /// Requests waiting for an app slot (`--app-concurrency`).
    public var queueDepth: Int
    /// Ended requests by verdict name (forwarded, not_found, method_not_allowed, redirect, bad_request, banned,
    /// throttled, refused_undeclared, app_busy, upstream_failed, ...).
    public var byVerdict: [String: Int]
    /// Ended requests by the status sent ("200", "404", ...; "0" when the client left before any status).
    public var byStatus: [String: Int]
    /// Client-side latency (request head parsed to response head sent), recent window; `nil` before any.
    public var latencyMs: Percentiles?
    /// The app's latency (forwarded to response head), recent window; `nil` before any.
    public var upstreamLatencyMs: Percentiles?
    /// Per route of the table, in table order.
    public var routes: [RouteTraffic]

    /// Creates a status.
    public init(
        requests: Int = 0, inFlight: Int = 0, queueDepth: Int = 0, byVerdict: [String: Int] = [:],
        byStatus: [String: Int] = [:], latencyMs: Percentiles? = nil, upstreamLatencyMs: Percentiles? = nil,
        routes: [RouteTraffic] = []
    ) {
        self.requests = requests
        self.inFlight = inFlight
        self.queueDepth = queueDepth
        self.byVerdict = byVerdict
        self.byStatus = byStatus
        self.latencyMs = latencyMs
        self.upstreamLatencyMs = upstreamLatencyMs
        self.routes = routes
    }

    /// Two percentiles of a latency distribution, in milliseconds.
    public struct Percentiles: Sendable, Codable, Equatable {
        public var p50: Double
        public var p99: Double
        public init(p50: Double, p99: Double) {
            self.p50 = p50
            self.p99 = p99
        }
    }

    /// One rule's traffic: requests matched to it and the app's latency on it.
    public struct RouteTraffic: Sendable, Codable, Equatable {
        /// The rule's index in the route table.
        public var index: Int
        public var requests: Int
        public var latencyMs: Percentiles?
        public init(index: Int, requests: Int, latencyMs: Percentiles?) {
            self.index = index
            self.requests = requests
            self.latencyMs = latencyMs
        }
    }
}
