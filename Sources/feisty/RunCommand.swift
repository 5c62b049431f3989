import ArgumentParser
import Foundation
import FeistyCore
import Logging

/// `feisty run APP`: serve the app behind feisty's route-gated reverse proxy.
///
/// By default feisty launches the app itself on an internal address (a private Unix socket) and serves the address
/// the app asks for;
/// with `--upstream HOST:PORT` the app already runs there (managed elsewhere) and feisty only guards it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve the app behind feisty's reverse proxy, refusing URLs the app never declared.",
        discussion: """
            Use it instead of `python3 app.py`: the app runs unmodified (its __main__ block included) but binds an \
            internal address only feisty can reach (a Unix socket in a private directory); feisty listens where \
            the app's app.run(...) asked to (or --listen, else 127.0.0.1:5000), answers requests to undeclared URLs \
            itself (404/405), and forwards the rest.
            """
    )

    @OptionGroup var app: AppOptions

    @Option(
        help: "The public address HOST:PORT (default: where the app's app.run asks to listen, else 127.0.0.1:5000)."
    )
    var listen: String?

    @Option(
        help: """
            Guard an already running server at HOST:PORT or unix:PATH instead of launching the app (routes are \
            extracted).
            """
    )
    var upstream: String?

    @OptionGroup(title: "Proxy") var proxy: ProxyOptions

    @OptionGroup(title: "Resilience (launch mode)") var resilience: ResilienceOptions

    @OptionGroup(title: "Guard: strikes and bans") var guardPolicy: GuardOptions

    @OptionGroup(title: "Guard: enforcement and limits") var guardRun: GuardRunOptions

    @OptionGroup(title: "Admin API") var adminOptions: AdminOptions

    @OptionGroup(title: "Privileges") var privileges: PrivilegeOptions

    @Option(help: "The WSGI server for module:name and factory apps (werkzeug, gunicorn, waitress).")
    var server: AppLaunchConfiguration.Server?

    @Flag(help: "Keep the Werkzeug debugger (a remote code execution console) if the app enables it.")
    var allowDebugger = false

    @Flag(
        help:
            "Keep connections to the internal Werkzeug server alive (faster; the app's threads then serve several requests)."
    )
    var http11 = false

    @Option(
        help: """
            How feisty reaches the app it launches: unix (a socket in a private directory: nothing can reach the app \
            around feisty, and no connection pays a TCP handshake) or tcp (a loopback port).
            """
    )
    var `internal`: AppLaunchConfiguration.Transport = .unix

    @Option(help: "Seconds the app may take to bind and answer before feisty gives up.")
    var startupTimeout: String = "30"

    /// Hidden: for measuring what the metrics cost on the hot path (`bench/metrics_bench.sh`).
    @Flag(help: .hidden)
    var noMetrics = false

    /// What `/metrics` and `/status` read (`nil` under `--no-metrics`).
    private func makeMetrics() -> FeistyMetrics? { noMetrics ? nil : FeistyMetrics() }

    @Option(
        help: """
            A TOML file of these settings: keys are the flags' long names (rate = 5, allow = ["10.0.0.0/8"], \
            dry-run = true, app = "app.py"); flags given here win. SIGHUP reads it again.
            """
    )
    var config: String?

    @Option(help: "How feisty writes its log: text (one plain line per message) or json (one JSON object per line).")
    var logFormat: LogFormat = .text

    @Flag(help: "Check the settings (--config's file and the flags) and exit: 0 valid, 1 not; starts nothing.")
    var checkConfig = false

    func run() async throws {
        let logger = Logger(label: "feisty")
        if checkConfig {
            try checkConfiguration()
            return
        }
        // Read (and removed from the environment the app inherits) before anything is spawned.
        let notifier = SystemdNotifier.fromEnvironment()
        do {
            if let upstream {
                try await guardRunningServer(at: upstream, logger: logger, notifier: notifier)
            } else {
                try await launchApp(logger: logger, notifier: notifier)
            }
        } catch let error as ProxyError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as RouteError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as SupervisorError {
            FileHandleOutput.error("feisty: \(error.message)")
            throw ExitCode.failure
        } catch let error as StoreError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as GuardError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as AdminError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as PrivilegeError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }

    /// The guard's service (`nil` under `--no-guard`): the state directory is opened and its bans loaded before
    /// anything listens, so a bad `--state-dir` is one error and no app started.
    /// `netAdmin`: the thread `nft` is started from (`--user` with `--ban-action nftables`).
    private func guardService(logger: Logger, netAdmin: NetAdminThread?) async throws -> GuardService? {
        guard let configuration = try guardRun.configuration(policy: guardPolicy) else { return nil }
        let service = try GuardService(configuration: configuration, logger: logger, netAdmin: netAdmin)
        try await service.prepare()
        return service
    }

    /// `--upstream`: routes come from extracting APP; the public address defaults to what its `app.run` asks for.
    /// With `--user` the probe imports the app as USER, and feisty drops to USER once the proxy listens.
    private func guardRunningServer(at upstream: String, logger: Logger, notifier: SystemdNotifier?) async throws {
        let plan = try privilegePlan(publicAddressKnown: true)
        let account = try plan.account
        let netAdmin = plan.makeNetAdminThread()
        let table = try await app.routeTable(account: account)
        var configuration = try proxy.configuration(listen: listen)
        if listen == nil {
            configuration.listenHost = table.host ?? LaunchedAppRun.fallbackAddress.host
            configuration.listenPort = table.port ?? LaunchedAppRun.fallbackAddress.port
        }
        let guardService = try await guardService(logger: logger, netAdmin: netAdmin)
        if let account, guardService != nil {
            // Opened (created) as root above; written as the account from the drop on.
            try PrivilegeDrop.handOver(guardRun.state.stateDirectory ?? StateDirectory.defaultPath(), to: account)
        }
        let admin = try adminOptions.configuration()
        try await ProxyServer.serve(
            table: table,
            upstream: try ProxyServer.resolve(upstream),
            configuration: configuration,
            guardService: guardService,
            admin: admin,
            app: app.app,
            metrics: makeMetrics(),
            logger: logger,
            notifier: notifier,
            dropPrivileges: dropPrivileges(
                to: account,
                netAdmin: netAdmin,
                admin: admin,
                logger: logger,
                who: "feisty runs"
            )
        )
    }

    /// Launch mode: feisty starts the app itself and serves the address the app asks for (or `--listen`).
    private func launchApp(logger: Logger, notifier: SystemdNotifier?) async throws {
        var configuration = try proxy.configuration(listen: listen)
        let policy = try resilience.policy()
        // Without --app-concurrency, what the server can serve at once: its threads in every instance.
        if configuration.appConcurrency == nil, let perInstance = server?.concurrency {
            configuration.appConcurrency = perInstance * resilience.workers
            logger.notice("at most \(perInstance * resilience.workers) requests in the app at once (--app-concurrency)")
        }
        if app.app.hasSuffix(".py"), !FileManager.default.fileExists(atPath: app.app) {
            FileHandleOutput.error("feisty: \(app.app): no such file")
            throw ExitCode.failure
        }
        let listenAddress = listen.map { _ in
            ListenAddress(host: configuration.listenHost, port: configuration.listenPort)
        }
        let launch = AppLaunchConfiguration(
            app: app.app,
            python: app.python,
            server: server,
            allowDebugger: allowDebugger,
            http11: http11,
            transport: `internal`,
            publicAddress: listenAddress,
            startupTimeout: try ProxyValueParsing.seconds(startupTimeout).duration,
            grace: configuration.gracePeriod.duration,
            healthPath: resilience.healthPath
        )
        // Bound before the app starts when the address is known: a taken port is one error and no app started.
        var publicAddress = listenAddress
        if publicAddress == nil { publicAddress = await requestedAddressFromSource(logger: logger) }
        let plan = try privilegePlan(publicAddressKnown: publicAddress != nil)
        let account = try plan.account
        let netAdmin = plan.makeNetAdminThread()
        let guardService = try await guardService(logger: logger, netAdmin: netAdmin)
        if let account, guardService != nil {
            // Opened (created) as root above; written as the account from the drop on.
            try PrivilegeDrop.handOver(guardRun.state.stateDirectory ?? StateDirectory.defaultPath(), to: account)
        }
        let admin = try adminOptions.configuration()
        try await LaunchedAppRun.serve(
            launch: launch,
            policy: policy,
            proxy: configuration,
            guardService: guardService,
            metrics: makeMetrics(),
            listen: publicAddress,
            admin: admin,
            configuration: try config.map {
                try RunConfigFile.reloader(path: $0, clientGuard: guardService?.clientGuard, logger: logger)
            },
            reloadHooks: notifier?.reloadHooks ?? .none,
            logger: logger,
            notifier: notifier,
            dropPrivileges: dropPrivileges(
                to: account,
                netAdmin: netAdmin,
                admin: admin,
                logger: logger,
                who: "feisty and the app run"
            ) ?? {}
        )
    }

    /// What `--user` does once the public address is bound: hands the admin socket over, then becomes the account,
    /// `netAdmin` keeping `CAP_NET_ADMIN` for `nft` (`nil` without an account: nothing to drop).
    private func dropPrivileges(
        to account: UserAccount?,
        netAdmin: NetAdminThread?,
        admin: AdminConfiguration?,
        logger: Logger,
        who: String
    ) -> (@Sendable () throws -> Void)? {
        guard let account else { return nil }
        return {
            // The admin socket (mode 0600) is for feisty's user, which USER is from now on (root still can).
            if case .unix(let path) = admin?.address { try PrivilegeDrop.handOver(path, to: account) }
            try PrivilegeDrop.become(account, netAdmin: netAdmin)
            logger.notice("\(who) as \(account.name) (uid \(account.userID)) from now on")
            if let netAdmin {
                logger.notice("nft is started from thread \(netAdmin.threadID), the only one keeping CAP_NET_ADMIN")
            }
        }
    }

    /// `--user`, `--group`, `--allow-root-app` against the user feisty runs as.
    private func privilegePlan(publicAddressKnown: Bool) throws(PrivilegeError) -> PrivilegePlan {
        try PrivilegePlan.decide(
            .init(
                effectiveUserID: geteuid(),
                user: privileges.user,
                group: privileges.group,
                allowRootApp: privileges.allowRootApp,
                upstream: upstream != nil,
                nftables: guardRun.banAction == .nftables,
                publicAddressKnown: publicAddressKnown
            )
        )
    }

    /// The address the app's `app.run(host=..., port=...)` asks for, read from the source without running it; `nil`
    /// when the source does not say it plainly (the running app's report then decides). Without any `app.run`,
    /// Flask's default 127.0.0.1:5000, and the log says why.
    private func requestedAddressFromSource(logger: Logger) async -> ListenAddress? {
        // As root with --user, even this read runs as USER: it starts the app's interpreter, whose `site` runs the
        // `.pth` files of its packages. (A bad --user is reported by the plan right after.)
        let user = geteuid() == 0 ? privileges.user : nil
        let account = user.flatMap { try? UserAccount.lookUp($0, group: privileges.group) }
        let extractor = RouteExtractor(
            python: app.python,
            timeout: .seconds(app.timeout),
            launcher: account.map { AccountLauncher(account: $0) }
        )
        let table: RouteTable
        do {
            table = try await extractor.extract(app: app.app, staticOnly: true)
        } catch {
            // Under --user the refusal that follows would otherwise blame the source for what USER cannot read.
            if let account { logger.warning("reading \(app.app) as \(account.name) to find its port failed: \(error)") }
            return nil
        }
        guard let port = table.port else {
            if table.runCall == nil {
                let fallback = LaunchedAppRun.fallbackAddress
                logger.notice(
                    "\(app.app) has no app.run(...): feisty listens on \(fallback.host):\(fallback.port) (Flask's default; --listen chooses)"
                )
                return fallback
            }
            return nil
        }
        return ListenAddress(host: table.host ?? LaunchedAppRun.fallbackAddress.host, port: port)
    }
}

extension AppLaunchConfiguration.Server: ExpressibleByArgument {}
extension AppLaunchConfiguration.Transport: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
