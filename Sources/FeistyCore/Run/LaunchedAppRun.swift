import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `feisty run APP` without `--upstream`: feisty launches the app's instances on internal addresses and serves the
/// public address itself.
///
/// The public address is bound before any instance starts when it is known beforehand (`--listen`, or the
/// `app.run(host=..., port=...)` read from the source), so a taken port is one clear error and no app starts;
/// otherwise the proxy binds once the first instance reported the address its `app.run` asked for. The supervisor
/// comes first in the service group: graceful shutdown runs in reverse order, so the proxy drains its in-flight
/// requests before the instances are stopped. A second SIGTERM/SIGINT cancels everything at once.
public enum LaunchedAppRun {
    /// Where the public listener binds when neither `--listen` nor the app's `app.run` says: Flask's default.
    public static let fallbackAddress = ListenAddress(host: "127.0.0.1", port: 5000)

    /// Runs the app behind the proxy until SIGTERM/SIGINT.
    /// - Parameters:
    ///   - launch: How to start the app.
    ///   - policy: The pool's shape and the detectors' settings.
    ///   - proxy: The proxy configuration; its listen address is used only when `listen` is given.
    ///   - guardService: Strikes, bans and limits (`nil`: the route gate only).
    ///   - listen: The public address known before the app starts (`--listen`, or read from the source); `nil` to
    ///     use the address the running app reports.
    ///   - admin: The admin listener (`nil`: `--admin off`).
    ///   - metrics: Counts the traffic and the lifecycle events for `/metrics` and `/status` (`nil`: nothing is
    ///     counted).
    ///   - configuration: The `--config` file to read again on SIGHUP before the deploy (`nil`: none).
    ///   - reloadHooks: Calls around each reload (systemd's notifications).
    ///   - logger: feisty's log.
    ///   - notifier: systemd's notification socket, when feisty runs as a `Type=notify` service.
    ///   - dropPrivileges: Called once the public address is bound and before the first instance starts: where
    ///     `--user` gives root up. Whatever else needs root to bind (the admin listener) must be bound before it.
    /// - Throws: `SupervisorError` when the app cannot be served, `ProxyError` when the public address cannot be
    ///   bound, `AdminError` when the admin address asked for cannot be bound.
    public static func serve(
        launch: AppLaunchConfiguration,
        policy: AppSupervisor.Policy = AppSupervisor.Policy(),
        proxy: ProxyConfiguration,
        guardService: GuardService? = nil,
        metrics: FeistyMetrics? = nil,
        listen: ListenAddress?,
        admin: AdminConfiguration? = nil,
        configuration: ConfigReloader? = nil,
        reloadHooks: ReloadCoordinator.Hooks = .none,
        logger: Logger,
        notifier: SystemdNotifier? = nil,
        dropPrivileges: @escaping @Sendable () throws -> Void = {}
    ) async throws {
        // First: a taken --admin address is one error, before any server or app exists.
        let adminListener = try await admin?.bind(logger: logger)
        // Trapped before any app starts: SIGHUP's default action would kill feisty.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let routing = RoutingPublisher(matcher: nil)
        let events = LifecycleEventLog(onAppend: metrics.map { $0.lifecycleEventRecorded })
        let listener = PublicListener()
        let latencies = policy.slowness == nil ? nil : LatencyCollection()
        if let metrics, let guardService { metrics.attach(guardService: guardService) }
        let makeServer: @Sendable (ListenAddress) -> ProxyServer = { address in
            var configuration = proxy
            configuration.listenHost = address.host
            configuration.listenPort = address.port
            let server = ProxyServer(
                configuration: configuration,
                routing: routing,
                clientGuard: guardService?.clientGuard,
                logger: logger
            ) { loop in
                (latencies.map { [$0.makeObserver(on: loop)] } ?? []) + (metrics?.makeObservers(on: loop) ?? [])
            }
            metrics?.attach(server: server)
            return server
        }
        // Either the proxy binds first and the supervisor waits for it, or it binds where the first instance asks.
        let front: any Service
        let beforeFirstLaunch: @Sendable () async throws -> Void
        let onFirstReady: @Sendable (AppInstance) -> Void
        if let listen {
            let server = makeServer(listen)
            front = server
            beforeFirstLaunch = {
                listener.listening(at: try await server.listeningAddress().displayForm)
                try dropPrivileges()
            }
            onFirstReady = { _ in
                announce(launch.app, at: listen.description, logger: logger, notifier: notifier)
            }
        } else {
            let (instances, continuation) = AsyncStream.makeStream(of: AppInstance.self)
            front = DeferredProxyService(
                firstInstance: instances,
                app: launch.app,
                logger: logger,
                notifier: notifier,
                onListening: { listener.listening(at: $0.displayForm) }
            ) { instance in
                makeServer(instance.requestedAddress ?? fallbackAddress)
            }
            // Bound only once the app reported its address: `--user` refuses this case (the port may need root).
            beforeFirstLaunch = { try dropPrivileges() }
            onFirstReady = { instance in
                continuation.yield(instance)
                continuation.finish()
            }
        }
        let supervisor = AppSupervisor(
            configuration: launch,
            policy: policy,
            routing: routing,
            latencies: latencies,
            events: events,
            logger: logger,
            beforeFirstLaunch: beforeFirstLaunch,
            onFirstReady: onFirstReady,
            notifier: notifier
        )
        let reloads = ReloadCoordinator(
            configuration: configuration,
            hooks: reloadHooks,
            signals: hangups,
            logger: logger
        ) { supervisor.reload() }
        // The guard stops last (graceful shutdown runs in reverse order): bans decided while draining are written.
        let sources = AdminSources(
            app: launch.app,
            listener: listener,
            routeTable: { routing.current.matcher?.table },
            pool: { supervisor.status },
            events: events,
            guardService: guardService
        )
        var control = AdminControl(guardService: guardService, supervisor: supervisor)
        // Control's reload is SIGHUP's: the configuration file too, and systemd told.
        control.reload = { Task { await reloads.reload() } }
        let adminServer = adminListener.flatMap { listener in
            admin?.showing(metrics).makeServer(listener: listener, sources: sources, control: control)
        }
        // The admin listener stops last: it answers while the rest drains; the watchdog goes on until the guard is
        // done.
        let services: [any Service] =
            (adminServer.map { [$0] } ?? []) + SystemdWatchdogService.services(for: notifier)
            + (guardService.map { [$0] } ?? []) + [supervisor, reloads, front]
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        // ServiceGroup drains on the first signal; the second one stops at once (its signals may not overlap).
        let impatience = Task {
            var received = 0
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                received += 1
                if received == 1 { notifier?.stopping() }
                guard received >= 2 else { continue }
                logger.warning("second stop signal: cutting in-flight requests and killing the app")
                supervisor.killAll()
                exit(1)
            }
        }
        defer { impatience.cancel() }
        try await group.run()
    }

    /// The one line a user needs: where the service is, once it serves (systemd hears `READY=1` then).
    static func announce(_ app: String, at address: String, logger: Logger, notifier: SystemdNotifier?) {
        logger.notice("serving \(app) on http://\(address)/")
        notifier?.served(app: app, address: address)
    }
}

/// Starts the proxy once the first app instance is ready (only then is the app's requested address known), then
/// serves until graceful shutdown. Shutting down before the app was ever ready simply returns.
final class DeferredProxyService: Service, Sendable {
    private let firstInstance: AsyncStream<AppInstance>
    private let app: String
    private let logger: Logger
    private let notifier: SystemdNotifier?
    private let makeServer: @Sendable (AppInstance) -> ProxyServer
    private let onListening: @Sendable (SocketAddress) -> Void

    init(
        firstInstance: AsyncStream<AppInstance>,
        app: String,
        logger: Logger,
        notifier: SystemdNotifier?,
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        makeServer: @escaping @Sendable (AppInstance) -> ProxyServer
    ) {
        self.firstInstance = firstInstance
        self.app = app
        self.logger = logger
        self.notifier = notifier
        self.makeServer = makeServer
        self.onListening = onListening
    }

    func run() async throws {
        guard let instance = await firstInstance.cancelOnGracefulShutdown().first(where: { _ in true }) else { return }
        let server = makeServer(instance)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [logger, app, notifier, onListening] in
                if let address = try? await server.listeningAddress() {
                    onListening(address)
                    LaunchedAppRun.announce(app, at: address.displayForm, logger: logger, notifier: notifier)
                }
            }
            try await server.run()
        }
    }
}

extension SocketAddress {
    /// `host:port` with IPv6 in brackets, for messages.
    var displayForm: String {
        let host = ipAddress ?? "?"
        let port = self.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension TimeAmount {
    /// The same span as a Swift `Duration` (the supervisor's unit), so one parsed flag feeds both parts.
    public var duration: Duration { .nanoseconds(nanoseconds) }
}
