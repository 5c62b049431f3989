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
    ///   - logger: Access log and lifecycle messages.
    /// - Throws: `RouteError` when the table cannot be compiled, `ProxyError` when the address cannot be bound.
    public static func serve(
        table: RouteTable,
        upstream: SocketAddress,
        configuration: ProxyConfiguration,
        guardService: GuardService? = nil,
        logger: Logger
    ) async throws {
        let matcher = try RouteMatcher(table: table)
        let routing = RoutingPublisher(matcher: matcher, instances: [UpstreamInstance(id: 0, address: upstream)])
        let server = ProxyServer(
            configuration: configuration,
            routing: routing,
            clientGuard: guardService?.clientGuard,
            logger: logger
        )
        // The guard stops last (graceful shutdown runs in reverse order): bans decided while draining are written.
        let services: [any Service] = (guardService.map { [$0] } ?? []) + [server]
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
