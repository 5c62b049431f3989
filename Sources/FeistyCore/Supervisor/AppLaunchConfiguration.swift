/// How `feisty run` launches the user's app: everything the supervisor needs besides a logger.
public struct AppLaunchConfiguration: Sendable {
    /// The WSGI server the launcher uses for `module:name` specs (a script's own `app.run` always uses Werkzeug).
    public enum Server: String, Sendable, Hashable, CaseIterable {
        /// Werkzeug's `run_simple`, threaded.
        case werkzeug
        /// gunicorn (must be installed in the app's interpreter).
        case gunicorn
        /// waitress (must be installed in the app's interpreter).
        case waitress

        /// How many requests one instance serves at once: the threads the launcher gives gunicorn (one worker) and
        /// waitress (`feisty_probe.py`'s `serve_gunicorn`, `serve_waitress`); `nil` for Werkzeug's threaded server,
        /// which starts a thread per request without a bound.
        public var concurrency: Int? {
            switch self {
            case .werkzeug: nil
            case .gunicorn, .waitress: 8
            }
        }
    }

    /// How feisty reaches the instances it launches (`--internal`).
    public enum Transport: String, Sendable, Hashable, CaseIterable {
        /// A Unix domain socket in feisty's private scratch directory (mode 0700): only feisty's user can reach the
        /// app around the gate, and no connection pays a TCP handshake.
        case unix
        /// A free TCP port on 127.0.0.1 (any local process can reach it).
        case tcp
    }

    /// The Python interpreter: a name looked up in `PATH` (`python3`) or a path (`.venv/bin/python`).
    public var python: String
    /// The app as the user gave it: `app.py`, `pkg.module:app` or `pkg:create_app()`.
    public var app: String
    /// The server for `module:name` specs; `nil` lets the launcher choose.
    public var server: Server?
    /// Keeps Werkzeug's interactive debugger on (off by default: it executes code sent over HTTP).
    public var allowDebugger: Bool
    /// Asks the launcher to serve HTTP/1.1 (keep-alive) to the proxy.
    public var http11: Bool
    /// How feisty reaches the app: a private Unix socket (default) or a loopback TCP port.
    public var transport: Transport
    /// The public address when the user chose it (`--listen`); the app then sees it as `SERVER_NAME`/`SERVER_PORT`.
    /// `nil`: the address the app's `app.run` asked for, else 127.0.0.1:5000 (where feisty listens then too).
    public var publicAddress: ListenAddress?
    /// How long an instance may take to report its routes and answer HTTP.
    public var startupTimeout: Duration
    /// How long the app may take to exit after SIGTERM before its process group is SIGKILLed.
    public var grace: Duration
    /// Variables added to (or overriding) feisty's own environment for the app.
    public var environment: [String: String]
    /// The working directory of the app; `nil` keeps feisty's.
    public var workingDirectory: String?
    /// The Python source of feisty's launcher (`feisty_probe.py`), run with `python -c`.
    public var launcherSource: String
    /// When and how fast a crashed app is restarted.
    public var restartPolicy: RestartPolicy
    /// How often readiness is checked while the app starts.
    public var readinessInterval: Duration
    /// The path of readiness and health probes (`--health-path`); `nil`: a declared parameterless GET route.
    public var healthPath: String?

    /// Creates a configuration; the defaults are `feisty run`'s.
    /// - Parameters:
    ///   - app: The app as the user gave it.
    ///   - python: The interpreter, `python3` by default.
    ///   - server: The WSGI server for `module:name` specs.
    ///   - allowDebugger: Keep Werkzeug's debugger on.
    ///   - http11: Serve HTTP/1.1 to the proxy.
    ///   - transport: How feisty reaches the app, a private Unix socket by default.
    ///   - publicAddress: The public address when `--listen` chose it.
    ///   - startupTimeout: Time allowed to become ready, 30 s by default.
    ///   - grace: Time allowed to exit after SIGTERM, 10 s by default.
    ///   - environment: Extra environment variables for the app.
    ///   - workingDirectory: The app's working directory.
    ///   - restartPolicy: The crash restart policy.
    ///   - readinessInterval: The readiness polling interval, 50 ms by default.
    ///   - healthPath: The probes' path, `nil` to pick a declared parameterless GET route.
    ///   - launcherSource: The source of feisty's Python launcher, the embedded probe by default.
    public init(
        app: String,
        python: String = "python3",
        server: Server? = nil,
        allowDebugger: Bool = false,
        http11: Bool = false,
        transport: Transport = .unix,
        publicAddress: ListenAddress? = nil,
        startupTimeout: Duration = .seconds(30),
        grace: Duration = .seconds(10),
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        restartPolicy: RestartPolicy = RestartPolicy(),
        readinessInterval: Duration = .milliseconds(50),
        healthPath: String? = nil,
        launcherSource: String = EmbeddedPython.commandLine
    ) {
        self.app = app
        self.launcherSource = launcherSource
        self.python = python
        self.server = server
        self.allowDebugger = allowDebugger
        self.http11 = http11
        self.transport = transport
        self.publicAddress = publicAddress
        self.startupTimeout = startupTimeout
        self.grace = grace
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.restartPolicy = restartPolicy
        self.readinessInterval = readinessInterval
        self.healthPath = healthPath
    }

    /// The launcher's arguments after `python -c SOURCE` for one instance.
    /// - Parameters:
    ///   - bind: The internal address the app must listen on.
    ///   - reportPath: Where the launcher writes its JSON report.
    /// - Returns: `launch APP --bind unix:PATH|HOST:PORT [...] --report PATH`.
    public func launcherArguments(bind: AppAddress, reportPath: String) -> [String] {
        var arguments = ["launch", app, "--bind", bind.description]
        if let publicAddress { arguments += ["--public", publicAddress.description] }
        if let server { arguments += ["--server", server.rawValue] }
        if allowDebugger { arguments.append("--allow-debugger") }
        if http11 { arguments.append("--http11") }
        arguments += ["--report", reportPath]
        return arguments
    }
}
