import Foundation

/// Where the admin listener reads the state it reports. Everything is read when a request asks, never pushed.
public struct AdminSources: Sendable {
    /// The app as given to `feisty run`.
    public var app: String
    /// When feisty started.
    public var startedAt: Date
    /// The proxy's public listener.
    public var listener: PublicListener
    /// The route table the gate uses now (`nil` until known).
    public var routeTable: @Sendable () -> RouteTable?
    /// The supervisor's instances (`nil` under `--upstream`: no instances of feisty's own).
    public var pool: (@Sendable () -> PoolStatus)?
    /// Lifecycle events (`nil`: none are kept).
    public var events: LifecycleEventLog?
    /// The guard (`nil` under `--no-guard`).
    public var guardService: GuardService?
    /// The proxy's traffic (`nil` closure result: not measured).
    public var traffic: @Sendable () async -> TrafficStatus?
    /// `/metrics` text (Prometheus text format 0.0.4).
    public var metrics: @Sendable () async -> String
    /// `/`: the dashboard page.
    public var dashboard: @Sendable () -> String

    /// Creates the sources; traffic and metrics default to placeholders.
    public init(
        app: String,
        startedAt: Date = Date(),
        listener: PublicListener,
        routeTable: @escaping @Sendable () -> RouteTable?,
        pool: (@Sendable () -> PoolStatus)? = nil,
        events: LifecycleEventLog? = nil,
        guardService: GuardService? = nil,
        traffic: @escaping @Sendable () async -> TrafficStatus? = { nil },
        metrics: @escaping @Sendable () async -> String = { AdminSources.placeholderMetrics },
        dashboard: @escaping @Sendable () -> String = { DashboardPage.html }
    ) {
        self.app = app
        self.startedAt = startedAt
        self.listener = listener
        self.routeTable = routeTable
        self.pool = pool
        self.events = events
        self.guardService = guardService
        self.traffic = traffic
        self.metrics = metrics
        self.dashboard = dashboard
    }

    /// Ready: the public port listens and (when feisty runs the app) an instance is ready.
    public var isReady: Bool {
        guard listener.current != nil else { return false }
        return pool?().hasReadyInstance ?? true
    }

    /// `/metrics` until the metrics are wired: one gauge, so scrapers see a valid exposition.
    public static let placeholderMetrics = """
        # HELP feisty_up Whether feisty runs.
        # TYPE feisty_up gauge
        feisty_up 1

        """
}
