import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `feisty run APP` without `--upstream`: feisty launches the app on an internal port and serves the public address
/// itself.
///
/// The supervisor publishes every ready instance (its live route table and internal address) to the proxy's routing
/// snapshot; the proxy binds once the first instance is ready, at `--listen` or else at the address the app's own
/// `app.run(...)` asked for, so the service keeps its URL. The supervisor comes first in the service group:
/// graceful shutdown runs in reverse order, so the proxy drains its in-flight requests before the app is stopped.
public enum LaunchedAppRun {
    /// Where the public listener binds when neither `--listen` nor the app's `app.run` says: Flask's default.
    public static let fallbackAddress = ListenAddress(host: "127.0.0.1", port: 5000)

    /// Runs the app behind the proxy until SIGTERM/SIGINT.
    /// - Parameters:
    ///   - launch: How to start the app.
    ///   - proxy: The proxy configuration; its listen address is used only when `listen` is given.
    ///   - listen: The public address from `--listen`; `nil` to use the app's requested address.
    ///   - logger: feisty's log.
    /// - Throws: `SupervisorError` when the app cannot be served, `ProxyError` when the public address cannot be
    ///   bound.
    public static func serve(
        launch: AppLaunchConfiguration,
        proxy: ProxyConfiguration,
        listen: ListenAddress?,
        logger: Logger
    ) async throws {
        let routing = RoutingPublisher(matcher: try RouteMatcher(table: RouteTable(rules: [])), upstream: nil)
        let (instances, continuation) = AsyncStream.makeStream(of: AppInstance.self)
        let supervisor = AppSupervisor(configuration: launch, logger: logger) { event in
            switch event {
            case .ready(let instance):
                publish(instance, to: routing, logger: logger)
                continuation.yield(instance)
            case .unavailable(let reason):
                logger.warning("the app is unavailable (\(reason)); answering 503 until it is back")
                routing.publish(upstream: nil)
            }
        }
        let front = DeferredProxyService(firstInstance: instances, app: launch.app, logger: logger) { instance in
            var configuration = proxy
            let address = listen ?? instance.requestedAddress ?? fallbackAddress
            configuration.listenHost = address.host
            configuration.listenPort = address.port
            return ProxyServer(configuration: configuration, routing: routing, logger: logger)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor), .init(service: front)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        defer { continuation.finish() }
        try await group.run()
    }

    /// Points the proxy at a new instance: its route table (it may have changed across a restart) and address.
    static func publish(_ instance: AppInstance, to routing: RoutingPublisher, logger: Logger) {
        do {
            let matcher = try RouteMatcher(table: instance.routeTable)
            let upstream = try instance.internalAddress.socketAddress()
            routing.publish(matcher: matcher, upstream: upstream)
            logger.info(
                "app instance \(instance.generation) ready on \(instance.internalAddress) with \(instance.routeTable.rules.count) rules"
            )
        } catch {
            // A table Werkzeug accepted but feisty cannot compile, or an unusable address: refuse to guess.
            logger.error("cannot route to app instance \(instance.generation): \(error)")
            routing.publish(upstream: nil)
        }
    }
}

/// Starts the proxy once the first app instance is ready (only then is the app's requested address known), then
/// serves until graceful shutdown. Shutting down before the app was ever ready simply returns.
final class DeferredProxyService: Service, Sendable {
    private let firstInstance: AsyncStream<AppInstance>
    private let app: String
    private let logger: Logger
    private let makeServer: @Sendable (AppInstance) -> ProxyServer

    init(
        firstInstance: AsyncStream<AppInstance>,
        app: String,
        logger: Logger,
        makeServer: @escaping @Sendable (AppInstance) -> ProxyServer
    ) {
        self.firstInstance = firstInstance
        self.app = app
        self.logger = logger
        self.makeServer = makeServer
    }

    func run() async throws {
        guard let instance = await firstInstance.cancelOnGracefulShutdown().first(where: { _ in true }) else { return }
        let server = makeServer(instance)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [logger, app] in
                // The app's own banner names its internal port; tell the user where the service really is.
                if let address = try? await server.listeningAddress() {
                    logger.notice("serving \(app) on http://\(address.displayForm)/")
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
