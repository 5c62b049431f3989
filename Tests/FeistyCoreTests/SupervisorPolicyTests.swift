import Foundation
import Testing

@testable import FeistyCore

/// The supervisor's decisions as plain values: restart backoff, fail-fast, readiness, the probe path.
///
/// The pool's state machine has its case tables in `SupervisorStateMachineTests`.
@Suite struct SupervisorPolicyTests {
    let t0 = ContinuousClock.now

    // MARK: restart policy

    /// Crashes `count` instances in a row, each after `uptime`, one second apart; the delays the policy returns.
    private func delays(
        _ policy: inout RestartPolicy,
        count: Int,
        uptime: Duration = .milliseconds(10),
        from first: Int = 0
    ) -> [Duration] {
        (first..<(first + count)).map { i in
            let crash = t0 + .seconds(i)
            return policy.instanceCrashed(startedAt: crash - uptime, exitedAt: crash)
        }
    }

    @Test func backoffDoublesUpToTheCap() {
        var policy = RestartPolicy(initialDelay: .milliseconds(100), maximumDelay: .milliseconds(500))
        // The first crash restarts at once; the loop then waits initialDelay, doubling up to the cap.
        #expect(
            delays(&policy, count: 7) == [
                .zero, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500),
                .milliseconds(500), .milliseconds(500),
            ]
        )
    }

    @Test func theDefaultsAreAtOnceThenHalfASecondDoublingToThirtySeconds() {
        var policy = RestartPolicy()
        #expect(policy.initialDelay == .milliseconds(500))
        #expect(policy.maximumDelay == .seconds(30))
        #expect(policy.stableUptime == .seconds(60))
        #expect(
            delays(&policy, count: 10) == [
                .zero, .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16),
                .seconds(30), .seconds(30), .seconds(30),
            ]
        )
    }

    @Test func backoffResetsAfterAStableUptime() {
        var policy = RestartPolicy(initialDelay: .milliseconds(100), stableUptime: .seconds(30))
        _ = policy.instanceCrashed(startedAt: t0, exitedAt: t0 + .seconds(1))
        _ = policy.instanceCrashed(startedAt: t0 + .seconds(1), exitedAt: t0 + .seconds(2))
        #expect(policy.instanceCrashed(startedAt: t0 + .seconds(2), exitedAt: t0 + .seconds(3)) == .milliseconds(200))
        // This one ran 40 s: healthy, so the crash is not part of the loop and restarts at once...
        #expect(policy.instanceCrashed(startedAt: t0 + .seconds(3), exitedAt: t0 + .seconds(43)) == .zero)
        // ...and the next quick crash starts the backoff over.
        #expect(policy.instanceCrashed(startedAt: t0 + .seconds(43), exitedAt: t0 + .seconds(44)) == .milliseconds(100))
    }

    @Test(arguments: [
        (Duration.seconds(59) + .milliseconds(999), Duration.milliseconds(2000)),
        (Duration.seconds(60), Duration.zero),
        (Duration.seconds(3600), Duration.zero),
    ])
    func theStableUptimeIsInclusive(uptime: Duration, delay: Duration) {
        var policy = RestartPolicy()
        _ = delays(&policy, count: 3)  // 0, 0.5 s, 1 s: the loop is at 2 s now
        #expect(policy.instanceCrashed(startedAt: t0 - uptime, exitedAt: t0) == delay)
    }

    /// The old policy gave up after `maximumCrashes` within `crashWindow` (tests `givesUpAfterTooManyCrashesInTheWindow`
    /// and `crashesOutsideTheWindowAreForgotten`); the policy no longer gives up, it only backs off.
    @Test func neverGivesUpOnACrashLoop() {
        var policy = RestartPolicy(initialDelay: .milliseconds(50), maximumDelay: .seconds(1))
        let all = delays(&policy, count: 200)
        #expect(all.first == .zero)
        #expect(all.dropFirst().allSatisfy { $0 >= .milliseconds(50) && $0 <= .seconds(1) })
        #expect(all.suffix(100).allSatisfy { $0 == .seconds(1) })
    }

    // MARK: the state machine's verdict on one exit (the old `instanceExited` API)

    private func exit(
        ready: Bool,
        stop: Bool = false,
        failure: SupervisorError? = nil,
        errorLine: String? = nil,
        at second: Int = 1
    ) -> SupervisorStateMachine.InstanceExit {
        .init(
            startedAt: t0 + .seconds(second - 1),
            exitedAt: t0 + .seconds(second),
            status: "exit code 1",
            becameReady: ready,
            stopRequested: stop,
            readinessFailure: failure,
            errorLine: errorLine
        )
    }

    private func oneInstance() -> SupervisorStateMachine {
        SupervisorStateMachine(configuration: .init(), restartPolicy: RestartPolicy(initialDelay: .milliseconds(100)))
    }

    @Test func aStopRequestFinishesWhateverTheExit() {
        // Stopped while starting.
        var starting = oneInstance()
        _ = starting.start()
        #expect(starting.stop() == [.publish([]), .stop(1)])
        #expect(
            starting.exited(1, exit(ready: false, stop: true))
                == [.record(LifecycleEvent(.stop, instance: 1, cause: "exit code 1")), .finish]
        )
        // Stopped while serving: unpublished first; even an exit that looks like a crash is the end once feisty stops.
        var serving = oneInstance()
        _ = serving.start()
        _ = serving.ready(1)
        #expect(serving.stop() == [.publish([]), .stop(1)])
        #expect(
            serving.exited(1, exit(ready: true, stop: false))
                == [.record(LifecycleEvent(.stop, instance: 1, cause: "exit code 1")), .finish]
        )
        // Nothing running: finished at once (after an empty publication).
        var idle = oneInstance()
        #expect(idle.stop() == [.publish([]), .finish])
    }

    @Test func anAppThatNeverServedFailsFastWithItsErrorLine() {
        var machine = oneInstance()
        _ = machine.start()
        let actions = machine.exited(1, exit(ready: false, errorLine: "SyntaxError: expected ':' (app.py, line 8)"))
        guard case .fail(let error)? = actions.first, actions.count == 1 else {
            Issue.record("expected a failure, got \(actions)")
            return
        }
        #expect(error.code == .appFailedToStart)
        #expect(error.message == "the app failed to start (exit code 1): SyntaxError: expected ':' (app.py, line 8)")
    }

    @Test func aStartupTimeoutBeforeEverServingIsReportedAsSuch() {
        var machine = oneInstance()
        _ = machine.start()
        let timeout = SupervisorError(.startupTimedOut, "the app did not answer HTTP")
        #expect(machine.exited(1, exit(ready: false, failure: timeout)) == [.fail(timeout)])
    }

    /// Was `aCrashAfterServingRestartsEvenIfTheNextStartFails`, which ended with the crash-loop give-up (removed:
    /// the policy never gives up now). The third crash is backed off from like the second.
    @Test func aCrashAfterServingRestartsEvenIfTheNextStartFails() {
        var machine = oneInstance()
        _ = machine.start()
        _ = machine.ready(1)
        #expect(
            machine.exited(1, exit(ready: true, at: 1)) == [
                .record(LifecycleEvent(.crash, instance: 1, cause: "exit code 1")), .publish([]),
                .launch(id: 2, after: .zero), .record(LifecycleEvent(.start, instance: 2, cause: "serving")),
            ]
        )
        // The restarted instance dies before it is ready (say the file was edited into a syntax error):
        // it served before, so this is a crash to back off from, not a startup failure.
        let why = "the app exited while starting (exit code 1)"
        #expect(
            machine.exited(2, exit(ready: false, at: 2)) == [
                .record(LifecycleEvent(.crash, instance: 2, cause: why)),
                .launch(id: 3, after: .milliseconds(100)),
                .record(LifecycleEvent(.start, instance: 3, cause: "serving")),
                .record(LifecycleEvent(.backoff, instance: nil, cause: "\(why); next start in 0.1 s")),
            ]
        )
        // Again, with the app's error line in the crash and backoff events; no give-up.
        #expect(
            machine.exited(3, exit(ready: false, errorLine: "boom", at: 3)) == [
                .record(LifecycleEvent(.crash, instance: 3, cause: "\(why): boom")),
                .launch(id: 4, after: .milliseconds(200)),
                .record(LifecycleEvent(.start, instance: 4, cause: "serving")),
                .record(LifecycleEvent(.backoff, instance: nil, cause: "\(why): boom; next start in 0.2 s")),
            ]
        )
    }

    // MARK: readiness

    private let report = LaunchReport(
        table: RouteTable(rules: [RouteRule(rule: "/", endpoint: "index")]),
        requested: ListenAddress(host: "0.0.0.0", port: 8080),
        bind: .unixSocket(path: "/tmp/feisty-1/app-1.sock")
    )

    @Test func readyNeedsTheReportAndAnHTTPAnswer() {
        var check = ReadinessCheck(startedAt: t0, timeout: .seconds(30), retryInterval: .milliseconds(50))
        #expect(check.start() == .readReport)
        #expect(check.reportRead(.missing, now: t0 + .milliseconds(10)) == .wait(.milliseconds(50)))
        #expect(check.waited(now: t0 + .milliseconds(60)) == .readReport)
        #expect(check.reportRead(.decoded(report), now: t0 + .milliseconds(70)) == .probeHTTP(report.bind, path: "/"))
        #expect(check.httpProbed(answered: false, now: t0 + .milliseconds(80)) == .wait(.milliseconds(50)))
        // After a failed probe the report is not read again: the HTTP probe is retried.
        #expect(check.waited(now: t0 + .milliseconds(130)) == .probeHTTP(report.bind, path: "/"))
        #expect(check.httpProbed(answered: true, now: t0 + .milliseconds(140)) == .ready(report))
    }

    @Test func theProbeAsksForADeclaredParameterlessGETRoute() {
        let table = RouteTable(rules: [
            RouteRule(rule: "/user/<name>", endpoint: "user"),
            RouteRule(rule: "/submit", methods: ["POST", "OPTIONS"], endpoint: "submit"),
            RouteRule(rule: "/health", endpoint: "health"),
        ])
        let bind = AppAddress.tcp(ListenAddress(host: "127.0.0.1", port: 4242))
        let healthReport = LaunchReport(table: table, requested: nil, bind: bind)
        var check = ReadinessCheck(startedAt: t0, timeout: .seconds(30), retryInterval: .milliseconds(50))
        #expect(check.reportRead(.decoded(healthReport), now: t0) == .probeHTTP(bind, path: "/health"))
        #expect(check.httpProbed(answered: false, now: t0 + .milliseconds(10)) == .wait(.milliseconds(50)))
        #expect(check.waited(now: t0 + .milliseconds(60)) == .probeHTTP(bind, path: "/health"))
        // No such route (only parameterised ones): `/`, whatever it answers (a 404 still means the app serves).
        let bare = LaunchReport(
            table: RouteTable(rules: [RouteRule(rule: "/<int:year>", endpoint: "year")]),
            requested: nil,
            bind: bind
        )
        var second = ReadinessCheck(startedAt: t0, timeout: .seconds(30), retryInterval: .milliseconds(50))
        #expect(second.reportRead(.decoded(bare), now: t0) == .probeHTTP(bind, path: "/"))
    }

    @Test func timesOutWithoutAReport() {
        var check = ReadinessCheck(startedAt: t0, timeout: .seconds(2), retryInterval: .milliseconds(50))
        // Never sleeps past the deadline.
        #expect(check.reportRead(.missing, now: t0 + .milliseconds(1980)) == .wait(.milliseconds(20)))
        guard case .fail(let error) = check.reportRead(.missing, now: t0 + .seconds(2)) else {
            Issue.record("expected a timeout")
            return
        }
        #expect(error.code == .startupTimedOut)
        #expect(error.message == "the app did not report its routes within 2 s (--startup-timeout)")
    }

    @Test func timesOutWhenTheAppNeverAnswers() {
        var check = ReadinessCheck(startedAt: t0, timeout: .milliseconds(500), retryInterval: .milliseconds(50))
        _ = check.reportRead(.decoded(report), now: t0)
        guard case .fail(let error) = check.httpProbed(answered: false, now: t0 + .seconds(1)) else {
            Issue.record("expected a timeout")
            return
        }
        #expect(
            error.message
                == "the app did not answer HTTP on unix:/tmp/feisty-1/app-1.sock within 0.5 s (--startup-timeout)"
        )
    }

    @Test func aMalformedReportFailsAtOnce() {
        var check = ReadinessCheck(startedAt: t0, timeout: .seconds(30), retryInterval: .milliseconds(50))
        guard case .fail(let error) = check.reportRead(.malformed("bad json"), now: t0) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .malformedReport)
    }

    // MARK: the probe path

    /// One `RouteTable.probePath` case: the rules, in registration order, and the path expected.
    struct ProbePathCase: Sendable, CustomTestStringConvertible {
        var name: String
        var rules: [RouteRule]
        var expected: String?
        var testDescription: String { name }
    }

    private static func get(_ path: String, _ endpoint: String = "view") -> RouteRule {
        RouteRule(rule: path, endpoint: endpoint)
    }

    static let probePathCases: [ProbePathCase] = [
        .init(name: "/ when it is declared", rules: [get("/health", "health"), get("/", "index")], expected: "/"),
        .init(name: "/ first", rules: [get("/"), get("/health")], expected: "/"),
        .init(
            name: "else the first parameterless GET route",
            rules: [get("/user/<name>"), get("/about", "about"), get("/health", "health")],
            expected: "/about"
        ),
        .init(
            name: "a rule with any method counts",
            rules: [RouteRule(rule: "/any", methods: nil, endpoint: "any")],
            expected: "/any"
        ),
        .init(
            name: "not a POST-only route, not even /",
            rules: [
                RouteRule(rule: "/", methods: ["POST", "OPTIONS"], endpoint: "post"),
                RouteRule(rule: "/form", methods: ["POST"], endpoint: "form"),
                get("/ping", "ping"),
            ],
            expected: "/ping"
        ),
        .init(
            name: "not the static route",
            rules: [get("/static", "static"), get("/static/<path:filename>", "static"), get("/ok", "ok")],
            expected: "/ok"
        ),
        .init(
            name: "not a redirect",
            rules: [RouteRule(rule: "/", endpoint: "old", redirectTo: "/new"), get("/new", "new")],
            expected: "/new"
        ),
        .init(
            name: "not a WebSocket route",
            rules: [RouteRule(rule: "/ws", endpoint: "ws", websocket: true), get("/plain", "plain")],
            expected: "/plain"
        ),
        .init(
            name: "not a subdomain rule",
            rules: [RouteRule(rule: "/", endpoint: "api", subdomain: "api"), get("/home", "home")],
            expected: "/home"
        ),
        .init(
            name: "a live app's rules carry the map's default subdomain",
            // Werkzeug's Rule.bind sets `subdomain = map.default_subdomain` (""), and the launcher reports it as is:
            // these are the rules of a plain `@app.route("/health")` app, as its launch report lists them.
            rules: [
                RouteRule(rule: "/static/<path:filename>", endpoint: "static", subdomain: ""),
                RouteRule(rule: "/health", endpoint: "health", subdomain: ""),
                RouteRule(rule: "/item/<int:n>", endpoint: "item", subdomain: ""),
            ],
            expected: "/health"
        ),
        .init(
            name: "not a host rule",
            rules: [RouteRule(rule: "/", endpoint: "host", host: "example.com"), get("/home", "home")],
            expected: "/home"
        ),
        .init(name: "nil without rules", rules: [], expected: nil),
        .init(
            name: "nil when every GET route has a parameter or is excluded",
            rules: [
                get("/<int:year>"), get("/static", "static"), RouteRule(rule: "/old", endpoint: "o", redirectTo: "/"),
                RouteRule(rule: "/post", methods: ["POST"], endpoint: "p"),
            ],
            expected: nil
        ),
    ]

    @Test(arguments: probePathCases)
    func probePath(_ example: ProbePathCase) {
        #expect(RouteTable(rules: example.rules).probePath == example.expected)
    }

    // MARK: contract details

    @Test func decodesTheLaunchReport() throws {
        let json = #"""
            {"rules": [{"rule": "/<int:year>", "endpoint": "getyear", "methods": ["GET", "HEAD", "OPTIONS"]}],
             "source": "runtime", "requested": {"host": "0.0.0.0", "port": 8080},
             "bind": {"host": "127.0.0.1", "port": 41234}}
            """#
        let report = try JSONDecoder().decode(LaunchReport.self, from: Data(json.utf8))
        #expect(report.table.rules.map(\.rule) == ["/<int:year>"])
        #expect(report.requested == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(report.bind == .tcp(ListenAddress(host: "127.0.0.1", port: 41234)))
        let noRun = #"{"rules": [], "requested": null, "bind": {"unix": "/tmp/feisty-1/app-2.sock"}}"#
        let unixReport = try JSONDecoder().decode(LaunchReport.self, from: Data(noRun.utf8))
        #expect(unixReport.requested == nil)
        #expect(unixReport.bind == .unixSocket(path: "/tmp/feisty-1/app-2.sock"))
        // Both forms survive a round trip through the report's JSON shape.
        for address in [AppAddress.unixSocket(path: "/s"), .tcp(ListenAddress(host: "::1", port: 9))] {
            #expect(try JSONDecoder().decode(AppAddress.self, from: JSONEncoder().encode(address)) == address)
        }
    }

    @Test func buildsTheLauncherCommandLine() {
        var configuration = AppLaunchConfiguration(app: "pkg:create_app()")
        let bind = AppAddress.tcp(ListenAddress(host: "127.0.0.1", port: 4242))
        #expect(
            configuration.launcherArguments(bind: bind, reportPath: "/tmp/r.json")
                == ["launch", "pkg:create_app()", "--bind", "127.0.0.1:4242", "--report", "/tmp/r.json"]
        )
        configuration.publicAddress = ListenAddress(host: "0.0.0.0", port: 8080)
        #expect(
            configuration.launcherArguments(bind: .unixSocket(path: "/tmp/f/app-1.sock"), reportPath: "/r")
                == [
                    "launch", "pkg:create_app()", "--bind", "unix:/tmp/f/app-1.sock", "--public", "0.0.0.0:8080",
                    "--report", "/r",
                ]
        )
        configuration.publicAddress = nil
        configuration.server = .gunicorn
        configuration.allowDebugger = true
        configuration.http11 = true
        #expect(
            configuration.launcherArguments(bind: bind, reportPath: "/r")
                == [
                    "launch", "pkg:create_app()", "--bind", "127.0.0.1:4242", "--server", "gunicorn",
                    "--allow-debugger", "--http11", "--report", "/r",
                ]
        )
        #expect(ListenAddress(host: "::1", port: 80).description == "[::1]:80")
    }

    @Test func readsTheLauncherErrorLine() {
        #expect(
            ErrorLines.launcherErrorMessage(#"{"error": {"kind": "load", "message": "SyntaxError: x"}}"#)
                == "SyntaxError: x"
        )
        #expect(ErrorLines.launcherErrorMessage(#"{"error": "plain"}"#) == "plain")
        #expect(ErrorLines.launcherErrorMessage(#"{"status": "ok"}"#) == nil)
        #expect(ErrorLines.launcherErrorMessage("not json") == nil)
    }

    @Test func picksTheLineThatSaysWhyTheAppDied() {
        #expect(ErrorLines.isRequestLogLine(#"127.0.0.1 - - [25/Nov/2026 02:57:15] "HEAD / HTTP/1.1" 200 -"#))
        #expect(ErrorLines.isRequestLogLine(#"::1 - alice [25/Nov/2026 02:57:15] "GET /x HTTP/1.0" 404 -"#))
        #expect(!ErrorLines.isRequestLogLine("ZeroDivisionError: division by zero"))
        #expect(!ErrorLines.isRequestLogLine(#"some text - - [not a log line"#))  // a space before ` - `
        #expect(!ErrorLines.isRequestLogLine(#"127.0.0.1 - - [25/Nov/2026 02:57:15]"#))  // no request after the date
        #expect(!ErrorLines.isRequestLogLine(#"x -y] "z""#))
        #expect(ErrorLines.isExceptionLine("OSError: [Errno 98] Address already in use"))
        #expect(ErrorLines.isExceptionLine("feisty: cannot load app.py: SyntaxError: x"))
        #expect(!ErrorLines.isExceptionLine("Press CTRL+C to quit"))
        #expect(!ErrorLines.isExceptionLine(" * Running on http://127.0.0.1:5000"))

        var lines = ErrorLines()
        for line in [
            "Traceback (most recent call last):", "  File \"app.py\", line 3", "KeyError: 'x'",
            " * Running on http://127.0.0.1:5000", "Press CTRL+C to quit",
            #"127.0.0.1 - - [25/Nov/2026 02:57:15] "HEAD / HTTP/1.1" 200 -"#, "",
        ] {
            lines.observe(line)
        }
        #expect(lines.exceptionLine == "KeyError: 'x'")
        #expect(lines.lastLine == "Press CTRL+C to quit")
        #expect(lines.explanation(afterReady: true) == "KeyError: 'x'")
        lines.observe(#"{"error": {"kind": "bind_error", "message": "cannot bind 127.0.0.1:1: denied"}}"#)
        #expect(lines.explanation(afterReady: false) == "cannot bind 127.0.0.1:1: denied")
        #expect(ErrorLines().explanation(afterReady: true) == nil)
        var banner = ErrorLines()
        banner.observe("Press CTRL+C to quit")
        #expect(banner.explanation(afterReady: true) == nil)
        #expect(banner.explanation(afterReady: false) == "Press CTRL+C to quit")
    }

    @Test func prefixesEachLineWholeOnItsStream() throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        #expect(pipe(&outPipe) == 0 && pipe(&errPipe) == 0)
        let sink = StandardStreamsAppOutput(outputDescriptor: outPipe[1], errorDescriptor: errPipe[1])
        sink.appWrote(["hello"], on: .standardOutput)
        sink.appWrote(["127.0.0.1 - - \"GET / HTTP/1.1\" 200 -"], on: .standardError)
        sink.appWrote(["second", "", "third"], on: .standardOutput)
        close(outPipe[1])
        close(errPipe[1])
        let out = FileHandle(fileDescriptor: outPipe[0], closeOnDealloc: true).readDataToEndOfFile()
        let err = FileHandle(fileDescriptor: errPipe[0], closeOnDealloc: true).readDataToEndOfFile()
        #expect(String(decoding: out, as: UTF8.self) == "app| hello\napp| second\napp| \napp| third\n")
        #expect(String(decoding: err, as: UTF8.self) == "app! 127.0.0.1 - - \"GET / HTTP/1.1\" 200 -\n")
    }

    @Test func splitsOutputIntoLinesAcrossReads() {
        var splitter = OutputLineSplitter(maximumLineBytes: 16)
        func feed(_ text: String) -> [String] {
            Array(text.utf8).withUnsafeBytes { splitter.lines(in: $0) }
        }
        #expect(feed("one\ntwo\r\nthr") == ["one", "two"])
        #expect(feed("") == [])
        #expect(feed("ee\n\n") == ["three", ""])  // a line cut by the read boundary comes out whole
        #expect(feed("caf\u{E9} \u{1F600}\n") == ["caf\u{E9} \u{1F600}"])
        #expect(feed("0123456789abcdefXYZ") == ["0123456789abcdefXYZ"])  // too long to hold back
        #expect(feed("tail") == [])
        #expect(splitter.finish() == "tail")  // the output ended without a newline
        #expect(splitter.finish() == nil)
        let invalid: [UInt8] = [0x61, 0xFF, 0x62, 0x0A]
        #expect(invalid.withUnsafeBytes { splitter.lines(in: $0) } == ["a\u{FFFD}b"])
    }

    @Test func formatsDurationsAndStatuses() {
        #expect(Duration.milliseconds(100).formattedSeconds == "0.1 s")
        #expect(Duration.seconds(10).formattedSeconds == "10 s")
        #expect(AppInstanceRunner.describe(signal: 9) == "signal 9 (SIGKILL)")
        #expect(AppInstanceRunner.describe(signal: 64) == "signal 64")
    }
}
