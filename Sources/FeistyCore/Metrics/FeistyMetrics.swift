import CoreMetrics
import NIOCore
import Prometheus
import Synchronization

/// feisty's metrics: the proxy's traffic counted per event loop (``TrafficObserver``), the supervisor's lifecycle
/// events, and gauges read when scraped; rendered as Prometheus text (``prometheusText()``) and as the traffic part
/// of `/status` (``trafficStatus()``).
///
/// Each `FeistyMetrics` owns its registry and swift-metrics factory: nothing is bootstrapped globally, so tests (and
/// several feistys in one process) each have their own. The hot path only updates its loop's tally; swift-metrics
/// handles are created once per label set and updated at scrape time from the merged tallies.
public final class FeistyMetrics: Sendable {
    /// The Prometheus registry the handles live in.
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let observers = Mutex<[TrafficObserver]>([])
    private let attached = Mutex(Attachments())
    private let lifecycle = Mutex(LifecycleTally())
    private let exposition: Mutex<Exposition>

    /// What the gauges are read from, attached as the parts come to life.
    private struct Attachments {
        var server: ProxyServer?
        var guardService: GuardService?
        var instanceStates: (@Sendable () async -> [String: Int])?
    }

    /// The swift-metrics handles (one per label set) and what they were last brought up to.
    private struct Exposition {
        var requests: [TrafficTally.Outcome: CoreMetrics.Counter] = [:]
        var requestsSeen: [TrafficTally.Outcome: Int] = [:]
        var refused: [String: CoreMetrics.Counter] = [:]
        var refusedSeen: [String: Int] = [:]
        var bytesSeen: (request: Int64, response: Int64) = (0, 0)
        var latencySeen = DurationBuckets()
        var upstreamSeen = DurationBuckets()
        var queueWaitSeen = DurationBuckets()
        var guardSeen: (strikes: Int, bans: Int) = (0, 0)
        var restarts: [String: CoreMetrics.Counter] = [:]
        var swaps: [String: CoreMetrics.Counter] = [:]
        var events: [String: CoreMetrics.Counter] = [:]
        var lifecycleSeen = LifecycleTally()
        var instances: [String: CoreMetrics.Gauge] = [:]
        var faultDurations: [LifecycleTally.Observation.Measure: [LifecycleEvent.Kind: CoreMetrics.Timer]] = [:]
    }

    /// Metric names, in one place.
    enum Name {
        static let requests = "feisty_requests_total"
        static let requestDuration = "feisty_request_duration_seconds"
        static let upstreamDuration = "feisty_upstream_duration_seconds"
        static let inFlight = "feisty_requests_in_flight"
        static let queueDepth = "feisty_queue_depth"
        static let queueWait = "feisty_queue_wait_seconds"
        static let appInFlight = "feisty_app_requests_in_flight"
        static let requestBytes = "feisty_request_bytes_total"
        static let responseBytes = "feisty_response_bytes_total"
        static let refused = "feisty_refused_total"
        static let throttled = "feisty_throttled_total"
        static let strikes = "feisty_strikes_total"
        static let bansTotal = "feisty_bans_total"
        static let bansActive = "feisty_bans_active"
        static let instances = "feisty_instances"
        static let restarts = "feisty_restarts_total"
        static let swaps = "feisty_swaps_total"
        static let lifecycleEvents = "feisty_lifecycle_events_total"
        static let detection = "feisty_detection_seconds"
        static let recovery = "feisty_recovery_seconds"
        static let residentMemory = "feisty_process_resident_memory_bytes"
        static let openConnections = "feisty_open_connections"
    }

    private let requestDuration: CoreMetrics.Timer
    private let upstreamDuration: CoreMetrics.Timer
    private let queueWait: CoreMetrics.Timer
    private let inFlight: CoreMetrics.Gauge
    private let queueDepth: CoreMetrics.Gauge
    private let appInFlight: CoreMetrics.Gauge
    private let requestBytes: CoreMetrics.Counter
    private let responseBytes: CoreMetrics.Counter
    private let throttled: CoreMetrics.Counter
    private let strikes: CoreMetrics.Counter
    private let bansTotal: CoreMetrics.Counter
    private let bansActive: CoreMetrics.Gauge
    private let residentMemory: CoreMetrics.Gauge
    private let openConnections: CoreMetrics.Gauge

    /// Creates the metrics with an empty registry of their own.
    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let bounds = DurationBuckets.upperBounds.map { Duration.nanoseconds($0) }
        // Faults are seen and healed in seconds (a hang timeout, a restart), not in request times.
        let faultBounds: [Duration] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300].map { .seconds($0) }
        factory.durationHistogramBuckets = [
            Name.requestDuration: bounds, Name.upstreamDuration: bounds, Name.queueWait: bounds,
            Name.detection: faultBounds, Name.recovery: faultBounds,
        ]
        self.factory = factory
        requestDuration = CoreMetrics.Timer(label: Name.requestDuration, factory: factory)
        upstreamDuration = CoreMetrics.Timer(label: Name.upstreamDuration, factory: factory)
        queueWait = CoreMetrics.Timer(label: Name.queueWait, factory: factory)
        inFlight = CoreMetrics.Gauge(label: Name.inFlight, factory: factory)
        queueDepth = CoreMetrics.Gauge(label: Name.queueDepth, factory: factory)
        appInFlight = CoreMetrics.Gauge(label: Name.appInFlight, factory: factory)
        requestBytes = CoreMetrics.Counter(label: Name.requestBytes, factory: factory)
        responseBytes = CoreMetrics.Counter(label: Name.responseBytes, factory: factory)
        throttled = CoreMetrics.Counter(label: Name.throttled, factory: factory)
        strikes = CoreMetrics.Counter(label: Name.strikes, factory: factory)
        bansTotal = CoreMetrics.Counter(label: Name.bansTotal, factory: factory)
        bansActive = CoreMetrics.Gauge(label: Name.bansActive, factory: factory)
        residentMemory = CoreMetrics.Gauge(label: Name.residentMemory, factory: factory)
        openConnections = CoreMetrics.Gauge(label: Name.openConnections, factory: factory)
        exposition = Mutex(Exposition())
    }

    // MARK: wiring

    /// The observers to give a ``ProxyServer`` for one of its event loops (pass as its `makeObservers`).
    func makeObservers(on eventLoop: any EventLoop) -> [any ExchangeObserver] {
        let observer = TrafficObserver(eventLoop: eventLoop)
        observers.withLock { $0.append(observer) }
        return [observer]
    }

    /// Reads open connections and the app's queue from `server` from now on.
    public func attach(server: ProxyServer) {
        attached.withLock { $0.server = server }
    }

    /// Reads strikes and bans from `guardService` from now on.
    public func attach(guardService: GuardService) {
        attached.withLock { $0.guardService = guardService }
    }

    /// Reads the instances by state from `states` (the supervisor's own view) instead of the lifecycle events.
    public func attach(instanceStates states: @escaping @Sendable () async -> [String: Int]) {
        attached.withLock { $0.instanceStates = states }
    }

    /// Counts a lifecycle event (pass as the `onAppend` of the supervisor's ``LifecycleEventLog``).
    @Sendable public func lifecycleEventRecorded(_ event: LifecycleEvent) {
        let observed = lifecycle.withLock { $0.add(event) }
        guard !observed.isEmpty else { return }
        exposition.withLock { state in
            for observation in observed {
                let label = observation.measure == .detection ? Name.detection : Name.recovery
                let cause = observation.cause.rawValue
                let timer =
                    state.faultDurations[observation.measure, default: [:]][observation.cause]
                    ?? CoreMetrics.Timer(label: label, dimensions: [("cause", cause)], factory: factory)
                state.faultDurations[observation.measure, default: [:]][observation.cause] = timer
                let (seconds, attoseconds) = observation.duration.components
                timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
            }
        }
    }

    // MARK: reading

    /// Every event loop's tally, merged (off the hot path: each copy is taken on its own loop).
    func mergedTally(at now: NIODeadline = .now()) async -> TrafficTally {
        var merged = TrafficTally()
        for observer in observers.withLock({ $0 }) {
            guard let part = try? await observer.snapshot().get() else { continue }
            merged.merge(part, at: now)
        }
        return merged
    }

    /// The `traffic` and `routes` parts of `/status`.
    public func trafficStatus() async -> TrafficStatus {
        let now = NIODeadline.now()
        let tally = await mergedTally(at: now)
        let server = attached.withLock { $0.server }
        return tally.status(at: now, queueDepth: server?.admissionCounts?.waiting ?? 0)
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric, brought up to date first.
    public func prometheusText() async -> String {
        let tally = await mergedTally()
        let (server, guardService, instanceStates) = attached.withLock {
            ($0.server, $0.guardService, $0.instanceStates)
        }
        let instances = await instanceStates?()
        update(from: tally)
        updateGauges(
            tally: tally,
            server: server,
            guardService: guardService,
            instances: instances ?? lifecycle.withLock { $0.instancesByState }
        )
        updateLifecycle(lifecycle.withLock { $0 })
        return registry.emitToString()
    }

    // MARK: exposition

    /// Brings the traffic counters and histograms up to `tally`. A scrape that merged before another one but got
    /// here after it changes nothing (its counts are not newer).
    private func update(from tally: TrafficTally) {
        exposition.withLock { state in
            for (outcome, count) in tally.outcomes {
                let growth = count - state.requestsSeen[outcome, default: 0]
                guard growth > 0 else { continue }
                let counter = cached(&state.requests, outcome) {
                    CoreMetrics.Counter(
                        label: Name.requests,
                        dimensions: [("verdict", outcome.verdict.rawValue), ("status", String(outcome.status))],
                        factory: factory
                    )
                }
                counter.increment(by: growth)
                state.requestsSeen[outcome] = count
            }
            for (reason, count) in tally.refusals {
                let growth = count - state.refusedSeen[reason, default: 0]
                guard growth > 0 else { continue }
                cached(&state.refused, reason) {
                    CoreMetrics.Counter(label: Name.refused, dimensions: [("reason", reason)], factory: factory)
                }.increment(by: growth)
                if reason == ProxyRefusal.throttled(retryAfterSeconds: 0).logLabel { throttled.increment(by: growth) }
                state.refusedSeen[reason] = count
            }
            if tally.requestBytes > state.bytesSeen.request {
                requestBytes.increment(by: Int(tally.requestBytes - state.bytesSeen.request))
                state.bytesSeen.request = tally.requestBytes
            }
            if tally.responseBytes > state.bytesSeen.response {
                responseBytes.increment(by: Int(tally.responseBytes - state.bytesSeen.response))
                state.bytesSeen.response = tally.responseBytes
            }
            if tally.latency.total > state.latencySeen.total {
                replay(tally.latency.growth(since: state.latencySeen), into: requestDuration)
                state.latencySeen = tally.latency
            }
            if tally.upstream.total > state.upstreamSeen.total {
                replay(tally.upstream.growth(since: state.upstreamSeen), into: upstreamDuration)
                state.upstreamSeen = tally.upstream
            }
            if tally.queueWait.total > state.queueWaitSeen.total {
                replay(tally.queueWait.growth(since: state.queueWaitSeen), into: queueWait)
                state.queueWaitSeen = tally.queueWait
            }
        }
    }

    private func replay(_ durations: [(nanoseconds: Int64, count: Int)], into timer: CoreMetrics.Timer) {
        for (nanoseconds, count) in durations {
            for _ in 0..<count { timer.recordNanoseconds(nanoseconds) }
        }
    }

    private func updateGauges(
        tally: TrafficTally,
        server: ProxyServer?,
        guardService: GuardService?,
        instances: [String: Int]
    ) {
        inFlight.record(max(0, tally.inFlight))
        let admission = server?.admissionCounts
        queueDepth.record(admission?.waiting ?? 0)
        appInFlight.record(admission?.inFlight ?? 0)
        openConnections.record(server?.openConnections ?? 0)
        if let bytes = ProcessMemory.residentBytes() { residentMemory.record(bytes) }
        bansActive.record(guardService?.clientGuard.bans.count ?? 0)
        exposition.withLock { state in
            if let guardService {
                let (strikesTotal, bansMade) = (guardService.strikesTotal, guardService.bansTotal)
                if strikesTotal > state.guardSeen.strikes {
                    strikes.increment(by: strikesTotal - state.guardSeen.strikes)
                    state.guardSeen.strikes = strikesTotal
                }
                if bansMade > state.guardSeen.bans {
                    bansTotal.increment(by: bansMade - state.guardSeen.bans)
                    state.guardSeen.bans = bansMade
                }
            }
            for (instanceState, count) in instances {
                cached(&state.instances, instanceState) {
                    CoreMetrics.Gauge(label: Name.instances, dimensions: [("state", instanceState)], factory: factory)
                }.record(count)
            }
        }
    }

    private func updateLifecycle(_ tally: LifecycleTally) {
        exposition.withLock { state in
            let seen = state.lifecycleSeen
            for (kind, count) in tally.events where count > seen.events[kind, default: 0] {
                cached(&state.events, kind.rawValue) {
                    CoreMetrics.Counter(
                        label: Name.lifecycleEvents,
                        dimensions: [("kind", kind.rawValue)],
                        factory: factory
                    )
                }.increment(by: count - seen.events[kind, default: 0])
            }
            for (cause, count) in tally.restarts where count > seen.restarts[cause, default: 0] {
                cached(&state.restarts, cause.rawValue) {
                    CoreMetrics.Counter(label: Name.restarts, dimensions: [("cause", cause.rawValue)], factory: factory)
                }.increment(by: count - seen.restarts[cause, default: 0])
            }
            for (cause, count) in tally.swaps where count > seen.swaps[cause, default: 0] {
                cached(&state.swaps, cause) {
                    CoreMetrics.Counter(label: Name.swaps, dimensions: [("cause", cause)], factory: factory)
                }.increment(by: count - seen.swaps[cause, default: 0])
            }
            state.lifecycleSeen = tally
        }
    }

    /// The handle for `key`, made once.
    private func cached<Key: Hashable, Handle>(
        _ handles: inout [Key: Handle],
        _ key: Key,
        make: () -> Handle
    ) -> Handle {
        if let handle = handles[key] { return handle }
        let handle = make()
        handles[key] = handle
        return handle
    }
}
