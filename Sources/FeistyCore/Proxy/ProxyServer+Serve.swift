import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

extension ProxyServer {
    /// Serves `table`'s app, already running at `upstream`, behind the proxy until SIGTERM/SIGINT (then drains
    /// gracefully). This is all of `feisty run APP --upstream HOST:PORT`; the command only maps flags.
    /// - Parameters:
    ///   - table: The app's route table (the gate).
    ///   - upstream: Where the app listens.
    ///   - configuration: The proxy configuration.
    ///   - guardService: Strikes, bans and limits (`nil`: the route gate only).
    ///   - admin: The admin listener (`nil`: `--admin off`).
    ///   - app: The app's name as given, for `/status`.
    ///   - metrics: Counts the traffic for `/metrics` and `/status` (`nil`: nothing is counted).
    ///   - logger: Access log and lifecycle messages.
    ///   - notifier: systemd's notification socket (`READY=1` once the proxy listens), if any.
    ///   - dropPrivileges: Called once the public address (and the admin listener) are bound: where `--user` gives
    ///     root up. When it throws, the run ends with its error.
    /// - Throws: `RouteError` when the table cannot be compiled, `ProxyError` when the address cannot be bound,
    ///   `AdminError` when the admin address asked for cannot be bound.
    public static func serve(
        table: RouteTable,
        upstream: SocketAddress,
        configuration: ProxyConfiguration,
        guardService: GuardService? = nil,
        admin: AdminConfiguration? = nil,
        app: String = "app",
        metrics: FeistyMetrics? = nil,
        logger: Logger,
        notifier: SystemdNotifier? = nil,
        dropPrivileges: (@Sendable () throws -> Void)? = nil
    ) async throws {
        let matcher = try RouteMatcher(table: table)
        // Before the proxy exists: a taken --admin address is one error. Nothing throws between this and the group.
        let adminListener = try await admin?.bind(logger: logger)
        let routing = RoutingPublisher(matcher: matcher, instances: [UpstreamInstance(id: 0, address: upstream)])
        let server = ProxyServer(
            configuration: configuration,
            routing: routing,
            clientGuard: guardService?.clientGuard,
            logger: logger
        ) { loop in
            metrics?.makeObservers(on: loop) ?? []
        }
        metrics?.attach(server: server)
        if let metrics, let guardService { metrics.attach(guardService: guardService) }
        // The guard stops last (graceful shutdown runs in reverse order): bans decided while draining are written.
        // No supervisor: no instances, no recycle or reload; ready once the proxy listens.
        let listener = PublicListener()
        let sources = AdminSources(
            app: app,
            listener: listener,
            routeTable: { routing.current.matcher?.table },
            guardService: guardService
        )
        let control = AdminControl(guardService: guardService, supervisor: nil)
        let adminServer = adminListener.flatMap { listener in
            admin?.showing(metrics).makeServer(listener: listener, sources: sources, control: control)
        }
        let listening = Task {
            if let address = try? await server.listeningAddress() { listener.listening(at: address.displayForm) }
        }
        defer { listening.cancel() }
        // The drop waits for the proxy's bind; the admin listener was bound above.
        let drop = dropPrivileges.map { drop in
            PrivilegeDropService(listening: { _ = try await server.listeningAddress() }, drop: drop)
        }
        let services: [any Service] =
            (adminServer.map { [$0] } ?? []) + SystemdWatchdogService.services(for: notifier)
            + (guardService.map { [$0] } ?? []) + (drop.map { [$0] } ?? []) + [server]
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        // SIGHUP's default action would kill feisty; here nothing is feisty's to redeploy.
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                logger.notice("SIGHUP: the server at --upstream is managed elsewhere; nothing to reload")
            }
        }
        defer { hangups.cancel() }
        let announcement = Task {
            guard let notifier, let address = try? await server.listeningAddress() else { return }
            let app = upstream.ipAddress == nil ? "the app" : "the app at \(upstream.displayForm)"
            notifier.served(app: app, address: address.displayForm)
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                notifier.stopping()
                break
            }
        }
        defer { announcement.cancel() }
        try await group.run()
    }

    /// Resolves `HOST:PORT` (names such as `localhost` allowed) or `unix:PATH` (a Unix domain socket, as gunicorn's
    /// `--bind unix:PATH` names one) to a socket address.
    /// - Throws: `ProxyError.invalidUpstream`.
    public static func resolve(_ text: String) throws(ProxyError) -> SocketAddress {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty, let address = try? SocketAddress(unixDomainSocketPath: path) else {
                throw .invalidUpstream(text)
            }
            return address
        }
        let host: String
        let port: Int
        do {
            (host, port) = try ProxyValueParsing.hostPort(text)
        } catch {
            throw .invalidUpstream(text)
        }
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw .invalidUpstream(text)
        }
    }
}
