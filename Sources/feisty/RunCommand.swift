import ArgumentParser
import FeistyCore
import Logging

/// `feisty run APP`: serve the app behind feisty's route-gated reverse proxy.
///
/// With `--upstream HOST:PORT` the app is already running there (feisty only guards it); the launch mode (feisty
/// starts the app itself) is added by the supervisor.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve the app behind feisty's reverse proxy, refusing URLs the app never declared."
    )

    @OptionGroup var app: AppOptions

    @Option(help: "The public address (default: the app.run host/port in the source, else 127.0.0.1:5000).")
    var listen: String?

    @Option(help: "An already running instance of the app to guard (HOST:PORT); feisty does not launch it.")
    var upstream: String?

    @Flag(help: "Forward requests the route gate refuses too (the verdict is still logged).")
    var forwardUnknown = false

    @Option(help: "A proxy (IP or CIDR, IPv4/IPv6) whose X-Forwarded-For is trusted; repeatable.")
    var trustedProxy: [String] = []

    @Option(help: "Largest request body forwarded, e.g. 10m, 1g; 0 = unlimited (413 above it).")
    var maxBody: String = "1g"

    @Option(help: "Largest request head in bytes, e.g. 16k (431 above it).")
    var maxHeaderBytes: String = "16k"

    @Option(help: "Seconds a client may take to send a request head (408 after it).")
    var headerTimeout: String = "10"

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout: String = "60"

    @Option(help: "Seconds of silence from the app before 504.")
    var upstreamTimeout: String = "60"

    @Option(help: "Seconds in-flight requests may take to finish on SIGTERM/SIGINT.")
    var grace: String = "10"

    @Flag(inversion: .prefixedNo, help: "Write one access-log line per request.")
    var accessLog = true

    @Option(help: "The WSGI server for module:name and factory apps (werkzeug, gunicorn, waitress).")
    var server: AppLaunchConfiguration.Server?

    @Flag(help: "Keep the Werkzeug debugger (a remote code execution console) if the app enables it.")
    var allowDebugger = false

    @Flag(help: "Let the internal Werkzeug server keep connections alive (HTTP/1.1) between feisty and the app.")
    var http11 = false

    @Option(help: "Seconds the app may take to bind and answer before feisty gives up.")
    var startupTimeout: String = "30"

    func run() async throws {
        let logger = Logger(label: "feisty")
        guard let upstream else {
            try await launchApp(logger: logger)
            return
        }
        let table = try await app.routeTable()
        do {
            var configuration = ProxyConfiguration()
            if let listen {
                (configuration.listenHost, configuration.listenPort) = try ProxyValueParsing.hostPort(listen)
            } else {
                configuration.listenHost = table.host ?? "127.0.0.1"
                configuration.listenPort = table.port ?? 5000
            }
            configuration.forwardUnknown = forwardUnknown
            configuration.trustedProxies = try trustedProxy.map { (text) throws(ProxyError) in
                try IPNetwork(parsing: text)
            }
            configuration.maxBodyBytes = try ProxyValueParsing.size(maxBody)
            guard let headerBytes = try ProxyValueParsing.size(maxHeaderBytes), headerBytes < Int.max else {
                throw ProxyError.invalidSize(maxHeaderBytes)
            }
            configuration.maxHeaderBytes = Int(headerBytes)
            configuration.headerTimeout = try ProxyValueParsing.seconds(headerTimeout)
            configuration.idleTimeout = try ProxyValueParsing.seconds(idleTimeout)
            configuration.upstreamTimeout = try ProxyValueParsing.seconds(upstreamTimeout)
            configuration.gracePeriod = try ProxyValueParsing.seconds(grace)
            configuration.accessLog = accessLog
            let upstreamAddress = try ProxyServer.resolve(upstream)
            try await ProxyServer.serve(
                table: table, upstream: upstreamAddress, configuration: configuration, logger: logger
            )
        } catch let error as ProxyError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as RouteError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }

    /// Launch mode: feisty starts the app itself and serves the address the app asks for (or `--listen`).
    private func launchApp(logger: Logger) async throws {
        do {
            var proxy = ProxyConfiguration()
            var listenAddress: ListenAddress? = nil
            if let listen {
                let (host, port) = try ProxyValueParsing.hostPort(listen)
                listenAddress = ListenAddress(host: host, port: port)
            }
            proxy.forwardUnknown = forwardUnknown
            proxy.trustedProxies = try trustedProxy.map { (text) throws(ProxyError) in try IPNetwork(parsing: text) }
            proxy.maxBodyBytes = try ProxyValueParsing.size(maxBody)
            guard let headerBytes = try ProxyValueParsing.size(maxHeaderBytes), headerBytes < Int.max else {
                throw ProxyError.invalidSize(maxHeaderBytes)
            }
            proxy.maxHeaderBytes = Int(headerBytes)
            proxy.headerTimeout = try ProxyValueParsing.seconds(headerTimeout)
            proxy.idleTimeout = try ProxyValueParsing.seconds(idleTimeout)
            proxy.upstreamTimeout = try ProxyValueParsing.seconds(upstreamTimeout)
            proxy.gracePeriod = try ProxyValueParsing.seconds(grace)
            proxy.accessLog = accessLog
            let launch = AppLaunchConfiguration(
                app: app.app,
                python: app.python,
                server: server,
                allowDebugger: allowDebugger,
                http11: http11,
                startupTimeout: try ProxyValueParsing.seconds(startupTimeout).duration,
                grace: proxy.gracePeriod.duration
            )
            try await LaunchedAppRun.serve(launch: launch, proxy: proxy, listen: listenAddress, logger: logger)
        } catch let error as ProxyError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as SupervisorError {
            FileHandleOutput.error("feisty: \(error.message)")
            throw ExitCode.failure
        }
    }
}

extension AppLaunchConfiguration.Server: ExpressibleByArgument {}
