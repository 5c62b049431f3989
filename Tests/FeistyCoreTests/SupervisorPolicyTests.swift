import Foundation
import Testing

@testable import FeistyCore

/// The supervisor's decisions as plain values: restart backoff, crash-loop limit, fail-fast, readiness.
@Suite struct SupervisorPolicyTests {
    let t0 = ContinuousClock.now

    @Test func backoffDoublesUpToTheCap() {
        var policy = RestartPolicy(
            initialDelay: .milliseconds(100),
            maximumDelay: .milliseconds(500),
            maximumCrashes: 100
        )
        var delays: [Duration] = []
        for i in 0..<6 {
            let crash = t0 + .seconds(i)
            guard
                case .restart(let delay) = policy.instanceCrashed(startedAt: crash - .milliseconds(10), exitedAt: crash)
            else {
                Issue.record("gave up too early")
                return
            }
            delays.append(delay)
        }
        #expect(
            delays == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500),
                .milliseconds(500), .milliseconds(500),
            ]
        )
    }

    @Test func backoffResetsAfterAStableUptime() {
        var policy = RestartPolicy(initialDelay: .milliseconds(100), stableUptime: .seconds(30), maximumCrashes: 100)
        _ = policy.instanceCrashed(startedAt: t0, exitedAt: t0 + .seconds(1))
        _ = policy.instanceCrashed(startedAt: t0 + .seconds(1), exitedAt: t0 + .seconds(2))
        #expect(
            policy.instanceCrashed(startedAt: t0 + .seconds(2), exitedAt: t0 + .seconds(3))
                == .restart(after: .milliseconds(400))
        )
        // This one ran 40 s: healthy, so the backoff starts over.
        #expect(
            policy.instanceCrashed(startedAt: t0 + .seconds(3), exitedAt: t0 + .seconds(43))
                == .restart(after: .milliseconds(100))
        )
    }

    @Test func givesUpAfterTooManyCrashesInTheWindow() {
        var policy = RestartPolicy(maximumCrashes: 3, crashWindow: .seconds(60))
        for i in 0..<3 {
            let decision = policy.instanceCrashed(
                startedAt: t0 + .seconds(i),
                exitedAt: t0 + .seconds(i) + .milliseconds(500)
            )
            #expect(decision != .giveUp(crashes: i + 1, window: .seconds(60)))
        }
        #expect(
            policy.instanceCrashed(startedAt: t0 + .seconds(3), exitedAt: t0 + .seconds(4))
                == .giveUp(crashes: 4, window: .seconds(60))
        )
    }

    @Test func crashesOutsideTheWindowAreForgotten() {
        var policy = RestartPolicy(maximumCrashes: 2, crashWindow: .seconds(10))
        _ = policy.instanceCrashed(startedAt: t0, exitedAt: t0 + .seconds(1))
        _ = policy.instanceCrashed(startedAt: t0 + .seconds(1), exitedAt: t0 + .seconds(2))
        // 20 s later the two old crashes left the window: one crash in the window, restart.
        guard case .restart = policy.instanceCrashed(startedAt: t0 + .seconds(21), exitedAt: t0 + .seconds(22)) else {
            Issue.record("should restart")
            return
        }
    }

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

    @Test func aStopRequestFinishesWhateverTheExit() {
        var machine = SupervisorStateMachine(policy: RestartPolicy())
        #expect(machine.instanceExited(exit(ready: false, stop: true)) == .finish)
        #expect(machine.instanceExited(exit(ready: true, stop: true)) == .finish)
    }

    @Test func anAppThatNeverServedFailsFastWithItsErrorLine() {
        var machine = SupervisorStateMachine(policy: RestartPolicy())
        let action = machine.instanceExited(exit(ready: false, errorLine: "SyntaxError: expected ':' (app.py, line 8)"))
        guard case .fail(let error) = action else {
            Issue.record("expected a failure, got \(action)")
            return
        }
        #expect(error.code == .appFailedToStart)
        #expect(error.message == "the app failed to start (exit code 1): SyntaxError: expected ':' (app.py, line 8)")
    }

    @Test func aStartupTimeoutBeforeEverServingIsReportedAsSuch() {
        var machine = SupervisorStateMachine(policy: RestartPolicy())
        let timeout = SupervisorError(.startupTimedOut, "the app did not answer HTTP")
        #expect(machine.instanceExited(exit(ready: false, failure: timeout)) == .fail(timeout))
    }

    @Test func aCrashAfterServingRestartsEvenIfTheNextStartFails() {
        var machine = SupervisorStateMachine(policy: RestartPolicy(initialDelay: .milliseconds(100), maximumCrashes: 2))
        #expect(
            machine.instanceExited(exit(ready: true, at: 1))
                == .restart(after: .milliseconds(100), reason: "the app exited (exit code 1)")
        )
        // The restarted instance dies before it is ready (say the file was edited into a syntax error):
        // it served before, so this is a crash to back off from, not a startup failure.
        #expect(
            machine.instanceExited(exit(ready: false, at: 2))
                == .restart(after: .milliseconds(200), reason: "the app exited (exit code 1)")
        )
        guard case .fail(let error) = machine.instanceExited(exit(ready: false, errorLine: "boom", at: 3)) else {
            Issue.record("expected the crash loop to give up")
            return
        }
        #expect(error.code == .crashLoop)
        #expect(error.message.contains("3 times within 60 s"))
        #expect(error.message.contains("boom"))
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
        #expect(check.reportRead(.decoded(report), now: t0 + .milliseconds(70)) == .probeHTTP(report.bind))
        #expect(check.httpProbed(answered: false, now: t0 + .milliseconds(80)) == .wait(.milliseconds(50)))
        // After a failed probe the report is not read again: the HTTP probe is retried.
        #expect(check.waited(now: t0 + .milliseconds(130)) == .probeHTTP(report.bind))
        #expect(check.httpProbed(answered: true, now: t0 + .milliseconds(140)) == .ready(report))
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
