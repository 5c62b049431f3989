#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@testable import FeistyCore

/// The supervisor against real python3 + Flask processes and feisty's real launcher.
///
/// Serialized: every test spawns interpreters, and the machine has two shared cores.
@Suite(.serialized, .timeLimit(.minutes(1))) struct SupervisorIntegrationTests {
    @Test func seedAppBecomesReadyBehindAPrivateSocketAndStopsWithItsGroup() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        let group = ServiceGroup(
            configuration: .init(services: [harness.supervisor], gracefulShutdownSignals: [], logger: harness.logger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let instance = try await harness.firstReady()
            #expect(instance.generation == 1)
            // A Unix socket in a directory only feisty's user may enter: nothing else reaches the app around the gate.
            guard case .unixSocket(let socketPath) = instance.internalAddress else {
                Issue.record("expected a Unix socket, got \(instance.internalAddress)")
                return
            }
            let directory = (socketPath as NSString).deletingLastPathComponent
            #expect(harness.recorder.scratch.withLock { $0 } == directory)
            let attributes = try FileManager.default.attributesOfItem(atPath: directory)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
            #expect(
                (try FileManager.default.attributesOfItem(atPath: socketPath)[.type] as? FileAttributeType)
                    == .typeSocket
            )
            #expect(instance.requestedAddress == ListenAddress(host: "0.0.0.0", port: 8080))
            let rules = instance.routeTable.rules.map(\.rule)
            #expect(rules.contains("/"))
            #expect(rules.contains("/user/<username>"))
            #expect(rules.contains("/<int:year>"))
            // Published to the proxy: that socket, with the app's route table as the gate.
            try await harness.waitForPublished([1])
            #expect(harness.upstream(1)?.address.pathname == socketPath)
            #expect(harness.routing.current.matcher?.table == instance.routeTable)
            #expect(
                harness.recorded.prefix(2).map { $0 } == [
                    LifecycleEvent(.start, instance: 1, cause: "serving"),
                    LifecycleEvent(.ready, instance: 1, cause: "ready"),
                ]
            )
            #expect(try await SupervisorHarness.get(instance.internalAddress, "/2024") == "2024")
            // The app's stderr (Werkzeug's request log) arrives line by line, whole.
            #expect(
                try await harness.waitForLine(on: .standardError) { $0.contains("GET /2024") }
                    .hasSuffix("\"GET /2024 HTTP/1.1\" 200 -")
            )
            // The readiness probe was a GET of the declared `/` (so the app logged a 200, not a 404).
            #expect(
                try await harness.waitForLine(on: .standardError) { $0.contains("\"GET / HTTP/1.1\"") }
                    .hasSuffix("\"GET / HTTP/1.1\" 200 -")
            )
            #expect(SupervisorHarness.groupIsAlive(instance.processID))

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(!SupervisorHarness.groupIsAlive(instance.processID))
            // Was `.unavailable(reason: "the app is stopping")`: the stop is the last event...
            let last = harness.recorded.last
            #expect(last?.kind == .stop && last?.instance == 1, "\(String(describing: last))")
            // ...and the proxy no longer routes to the stopped instance.
            #expect(harness.published == [])
            #expect(!FileManager.default.fileExists(atPath: directory), "the scratch directory outlived the supervisor")
            #expect(harness.recorder.firstReady.withLock { $0.count } == 1)
        }
    }

    @Test func passesStdoutAndStderrThrough() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/chatty_app.py")
        try await harness.whileRunning { _ in
            _ = try await harness.firstReady()
            #expect(
                try await harness.waitForLine(on: .standardOutput) { $0.hasPrefix("chatty") }
                    == "chatty: hello on stdout"
            )
            #expect(
                try await harness.waitForLine(on: .standardError) { $0.hasPrefix("chatty") }
                    == "chatty: hello on stderr"
            )
        }
    }

    @Test func aKilledAppIsRestartedOnANewPortAndPublishedAgain() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        harness.configuration.transport = .tcp  // the loopback-port transport (`--internal tcp`) gets a run too
        harness.policy.idleProbeInterval = nil  // see `aFreshInstanceIsNotProbedAsIdleAtOnce`
        let supervisor = harness.makeSupervisor()
        try await harness.whileRunning(supervisor) { _ in
            let first = try await harness.firstReady()
            try await harness.waitForPublished([1])
            #expect(kill(first.processID, SIGKILL) == 0)
            // Unpublished, and its successor (the first crash restarts at once) published in its place. A loopback
            // port is picked free and then bound by the app: another process of a parallel test run may take it in
            // between, and then that successor fails to bind and the next one serves (a backoff for that cause only).
            let successor = try await harness.waitUntil("a successor of instance 1 published") {
                harness.published.count == 1 && harness.published[0] > 1 ? harness.published[0] : nil
            }
            let second = try #require(harness.upstream(successor))
            let secondAddress = try SupervisorHarness.appAddress(second.address)
            let secondGroup = try harness.processGroup(ofInstance: successor)
            #expect(secondGroup != first.processID)
            #expect(harness.routing.current.matcher?.table == first.routeTable)
            guard case .tcp(let address) = secondAddress else {
                Issue.record("expected a loopback port, got \(secondAddress)")
                return
            }
            #expect(address.host == "127.0.0.1" && address.port != 8080)
            #expect(secondAddress != first.internalAddress)
            #expect(try await SupervisorHarness.get(secondAddress, "/1999") == "1999")
            let crash = try #require(harness.recorded.first { $0.kind == .crash })
            #expect(crash.instance == 1)
            #expect(crash.cause.hasPrefix("signal 9 (SIGKILL)"), "\(crash.cause)")
            #expect(harness.recorded.contains(LifecycleEvent(.start, instance: 2, cause: "serving")))
            let unexpected = harness.recorded.filter {
                ($0.kind == .backoff || ($0.kind == .crash && $0.instance != 1))
                    && !$0.cause.contains("Address already in use")
            }
            #expect(unexpected.isEmpty, "\(unexpected)")
            #expect(!SupervisorHarness.groupIsAlive(first.processID))
            // `onFirstReady` is for the first instance only.
            #expect(harness.recorder.firstReady.withLock { $0.map(\.generation) } == [1])
            #expect(SupervisorHarness.groupIsAlive(secondGroup))
        }
    }

    /// Was `aCrashLoopGivesUpWithAClearError`: the restart policy no longer gives up. A crash loop goes on, backed
    /// off, with every crash and wait recorded; a stop still ends it cleanly.
    @Test func aCrashLoopIsBackedOffAndNeverGivenUp() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/crash_after_ready.py")
        harness.configuration.environment["CRASH_AFTER"] = "1"
        harness.configuration.restartPolicy = RestartPolicy(
            initialDelay: .milliseconds(50),
            maximumDelay: .milliseconds(100)
        )
        harness.policy.idleProbeInterval = nil  // see `aFreshInstanceIsNotProbedAsIdleAtOnce`
        let supervisor = harness.makeSupervisor()
        try await harness.whileRunning(supervisor) { _ in
            _ = try await harness.waitUntil("three crashes", within: .seconds(40)) {
                harness.recorded.filter { $0.kind == .crash }.count >= 3 ? true : nil
            }
        }
        let crashes = harness.recorded.filter { $0.kind == .crash }
        // It was up, crashed, was restarted at once, crashed again, restarted after a wait, ...
        #expect(Array(harness.readyIDs.prefix(2)) == [1, 2])
        for crash in crashes where harness.readyIDs.contains(crash.instance ?? 0) {
            // os._exit leaves no exception line, and Werkzeug's banner or request log must not pose as one.
            #expect(crash.cause == "exit code 3")
        }
        let backoffs = harness.recorded.filter { $0.kind == .backoff }.map(\.cause)
        #expect(backoffs.count >= 2)
        if backoffs.count >= 2 {
            #expect(backoffs[0].hasSuffix("; next start in 0.05 s"), "\(backoffs[0])")
            #expect(backoffs[1].hasSuffix("; next start in 0.1 s"), "\(backoffs[1])")
        }
        #expect(!harness.recorded.contains { $0.kind == .crash && $0.instance == nil })
    }

    @Test func aBrokenAppFailsFastWithItsErrorLine() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/broken_syntax.py")
        let started = ContinuousClock.now
        let error = await #expect(throws: SupervisorError.self) { try await harness.supervisor.run() }
        #expect(error?.code == .appFailedToStart)
        // The launcher's one-line JSON error, unwrapped.
        let message = error?.message ?? ""
        #expect(message.hasPrefix("the app failed to start (exit code 1): "), "\(message)")
        #expect(message.hasSuffix("broken_syntax.py:8: expected ':' (SyntaxError)"), "\(message)")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(harness.readyIDs.isEmpty)
        #expect(harness.recorder.firstReady.withLock { $0.isEmpty })
        #expect(harness.published.isEmpty)
    }

    @Test func aStartupTimeoutStopsTheAppAndFails() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/slow_start.py")
        harness.configuration.startupTimeout = .milliseconds(800)
        harness.configuration.grace = .seconds(2)
        let supervisor = harness.makeSupervisor()
        let error = await #expect(throws: SupervisorError.self) { try await supervisor.run() }
        #expect(error?.code == .startupTimedOut)
        #expect(error?.message.contains("within 0.8 s (--startup-timeout)") == true, "\(error?.message ?? "")")
        #expect(SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty)
        #expect(harness.readyIDs.isEmpty)
    }

    @Test func aStopWhileStartingEndsCleanly() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/slow_start.py")
        harness.configuration.grace = .seconds(2)
        let supervisor = harness.makeSupervisor()
        // A copy stopped by the test before may still be exiting: it must not be taken for this one.
        let settled = ContinuousClock.now
        while !SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty,
            ContinuousClock.now - settled < .seconds(5)
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await supervisor.run() }
            // Let the interpreter start and reach its sleep, then stop.
            while SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty,
                ContinuousClock.now - started < .seconds(10)
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(!SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty)
            supervisor.stop()
            try await tasks.waitForAll()
        }
        #expect(harness.readyIDs.isEmpty)
        #expect(harness.recorder.firstReady.withLock { $0.isEmpty })
        #expect(harness.recorded.last?.kind == .stop && harness.recorded.last?.instance == 1)
        #expect(SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty)
    }

    @Test func aMissingInterpreterIsASpawnError() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        harness.configuration.python = "/nonexistent/python3"
        let supervisor = harness.makeSupervisor()
        let error = await #expect(throws: SupervisorError.self) { try await supervisor.run() }
        let message = error?.message ?? ""
        #expect(message.contains("cannot start /nonexistent/python3"), "\(message)")
        #expect(error?.code == .spawnFailed)
        #expect(message.hasPrefix("cannot start /nonexistent/python3"), "\(message)")
    }

    /// The launcher's liveness pipe: its stdin is a pipe whose write end only feisty holds (close-on-exec),
    /// so the app sees EOF as soon as feisty dies, however it dies.
    @Test func onlyFeistyHoldsTheWriteEndOfTheAppsStdin() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        try await harness.whileRunning { _ in
            let instance = try await harness.firstReady()
            let stdin = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(instance.processID)/fd/0")
            #expect(stdin.hasPrefix("pipe:["))
            var holders: Set<Int32> = []
            for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
                guard let pid = Int32(entry),
                    let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
                else { continue }
                for fd in fds
                where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) == stdin {
                    holders.insert(pid)
                    if pid == instance.processID { #expect(fd == "0", "the app must not hold its own liveness pipe") }
                }
            }
            #expect(holders == [getpid(), instance.processID])
        }
    }

    @Test func twoWorkersServeOnTheirOwnSocketsAndACrashLeavesTheOtherPublished() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        harness.policy.workers = 2
        harness.policy.idleProbeInterval = nil  // see `aFreshInstanceIsNotProbedAsIdleAtOnce`
        let supervisor = harness.makeSupervisor()
        try await harness.whileRunning(supervisor) { _ in
            try await harness.waitForPublished([1, 2])
            let first = try SupervisorHarness.appAddress(try #require(harness.upstream(1)).address)
            let second = try SupervisorHarness.appAddress(try #require(harness.upstream(2)).address)
            #expect(first != second)
            #expect(try await SupervisorHarness.get(first, "/11") == "11")
            #expect(try await SupervisorHarness.get(second, "/22") == "22")
            let victim = try harness.processGroup(ofInstance: 1)
            let survivor = try harness.processGroup(ofInstance: 2)
            #expect(kill(victim, SIGKILL) == 0)
            try await harness.waitForPublished([2, 3])
            #expect(harness.recorded.contains { $0.kind == .crash && $0.instance == 1 })
            #expect(!SupervisorHarness.groupIsAlive(victim))
            #expect(SupervisorHarness.groupIsAlive(survivor))
            #expect(try await SupervisorHarness.get(second, "/33") == "33")
        }
    }

    /// `reload()` (what SIGHUP does) swaps each instance for one running the code now on disk; a version that does not
    /// start is refused and the running one keeps serving.
    @Test func aDeploySwapsInTheCodeOnDiskAndABrokenOneIsRefused() async throws {
        let app = try SupervisorHarness.writeApp(SupervisorHarness.versionedApp("v1"), name: "deploy")
        defer { try? FileManager.default.removeItem(atPath: (app as NSString).deletingLastPathComponent) }
        let harness = SupervisorHarness(app: app)
        try await harness.whileRunning { supervisor in
            let first = try await harness.firstReady()
            try await harness.waitForPublished([1])
            #expect(try await SupervisorHarness.get(first.internalAddress, "/") == "v1")

            try SupervisorHarness.versionedApp("v2").write(toFile: app, atomically: true, encoding: .utf8)
            supervisor.reload()
            try await harness.waitForEvent("the deploy's end") { $0.kind == .deploy && $0.cause == "deploy complete" }
            #expect(harness.published == [2])
            let second = try SupervisorHarness.appAddress(try #require(harness.upstream(2)).address)
            #expect(try await SupervisorHarness.get(second, "/") == "v2")
            try await harness.waitForEvent("the old instance's stop") { $0.kind == .stop && $0.instance == 1 }
            #expect(!SupervisorHarness.groupIsAlive(first.processID))
            let deploy = harness.recorded.filter { $0.instance == 2 || $0.kind == .deploy || $0.kind == .swap }
            #expect(
                deploy.prefix(5).map { $0 } == [
                    LifecycleEvent(.deploy, instance: nil, cause: "deploying the code on disk to 1 instance(s)"),
                    LifecycleEvent(.start, instance: 2, cause: "serving, deploy: replacing instance 1"),
                    LifecycleEvent(.ready, instance: 2, cause: "ready"),
                    LifecycleEvent(.swap, instance: 2, cause: "instance 2 replaces 1"),
                    LifecycleEvent(.deploy, instance: nil, cause: "deploy complete"),
                ]
            )

            try "from flask import Flask\napp = Flask(__name__\n".write(toFile: app, atomically: true, encoding: .utf8)
            supervisor.reload()
            let refused = try await harness.waitForEvent("the refusal") { $0.kind == .deployRefused }
            #expect(refused.instance == 3)
            #expect(
                refused.cause.hasPrefix("deploy refused: the app exited while starting (exit code 1): "),
                "\(refused.cause)"
            )
            #expect(refused.cause.contains("SyntaxError") || refused.cause.contains("never closed"), "\(refused.cause)")
            // The last good version keeps serving; nothing else is started.
            try await Task.sleep(for: .milliseconds(300))
            #expect(harness.published == [2])
            #expect(try await SupervisorHarness.get(second, "/") == "v2")
            #expect(!harness.recorded.contains { $0.kind == .start && ($0.instance ?? 0) > 3 })
        }
    }

    /// An instance that just became ready is not idle: the idle probe (`idleProbeInterval`, 30 s by default) waits that
    /// long after readiness. A new instance's `lastProgress` is the moment it was created (it was 0, NIO uptime,
    /// so the supervisor saw a silence as long as the machine's uptime and probed every new instance at the next
    /// tick; an instance that died in that window failed the probe and was recorded as `hang`, killed, and its exit
    /// as `stop` instead of `crash`). The kill tests above still turn idle probes off, to keep them to one detector.
    @Test func aFreshInstanceIsNotProbedAsIdleAtOnce() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        try await harness.whileRunning { _ in
            _ = try await harness.firstReady()
            // The readiness probe, then a second (ticks are 250 ms apart) would be the idle probe.
            _ = try await harness.waitForLine(on: .standardError) { $0.contains("\"GET / HTTP/1.1\"") }
            try await Task.sleep(for: .seconds(1))
            let probes = harness.recorder.lines.withLock { lines in
                lines.filter { $0.0 == .standardError && $0.1.contains("\"GET / HTTP/1.1\"") }.count
            }
            #expect(probes == 1, "\(probes) probes within a second of readiness")
        }
    }

    /// Readiness and health probes ask for a declared parameterless GET route, so an app without `/` logs no 404.
    @Test func theProbeAsksForADeclaredRoute() async throws {
        let source = """
            from flask import Flask

            app = Flask(__name__)


            @app.route("/health")
            def health():
                return "ok"


            @app.route("/item/<int:n>")
            def item(n):
                return str(n)


            if __name__ == "__main__":
                app.run(port=5072)

            """
        let app = try SupervisorHarness.writeApp(source, name: "probe")
        defer { try? FileManager.default.removeItem(atPath: (app as NSString).deletingLastPathComponent) }
        // `--health-path` names it.
        var named = SupervisorHarness(app: app)
        named.configuration.healthPath = "/health"
        try await named.whileRunning(named.makeSupervisor()) { _ in
            _ = try await named.firstReady()
            let probe = try await named.waitForLine(on: .standardError) { $0.contains("\"GET /") }
            #expect(probe.hasSuffix("\"GET /health HTTP/1.1\" 200 -"), "\(probe)")
        }
        // Without it, the route table's probe path.
        let declared = SupervisorHarness(app: app)
        try await declared.whileRunning { _ in
            let instance = try await declared.firstReady()
            let probe = try await declared.waitForLine(on: .standardError) { $0.contains("\"GET /") }
            #expect(instance.routeTable.probePath == "/health")
            #expect(probe.hasSuffix("\"GET /health HTTP/1.1\" 200 -"), "\(probe)")
        }
    }

    /// SIGKILL of feisty cannot be done to the test process itself, so a Python parent stands in for feisty: it
    /// spawns the launcher exactly as the supervisor does (own session, stdin a pipe it holds) and is then killed.
    @Test func theAppDiesWhenItsParentIsKilled() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-orphan-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try SupervisorHarness.launcherSource.write(toFile: scratch + "/probe.py", atomically: true, encoding: .utf8)
        let parent = """
            import subprocess, sys, time
            scratch, app = sys.argv[1], sys.argv[2]
            r, w = __import__("os").pipe()
            child = subprocess.Popen(
                [sys.executable, "-c", open(scratch + "/probe.py").read(), "launch", app,
                 "--bind", "127.0.0.1:0", "--report", scratch + "/report.json"],
                stdin=r, start_new_session=True)
            __import__("os").close(r)
            print(child.pid, flush=True)
            time.sleep(600)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", parent, scratch, SupervisorHarness.repository + "/examples/seed/app.py"]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        let line = String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self)
        let child = try #require(Int32(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Wait until the app is up (it wrote its report), then kill the parent the hard way.
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: scratch + "/report.json"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(SupervisorHarness.groupIsAlive(child))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let gone = ContinuousClock.now + .seconds(10)
        while SupervisorHarness.groupIsAlive(child), ContinuousClock.now < gone {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!SupervisorHarness.groupIsAlive(child), "the app outlived its parent")
        if SupervisorHarness.groupIsAlive(child) { kill(-child, SIGKILL) }
    }
}

/// Runs an ``AppSupervisor`` in tests: publishes into its own ``RoutingPublisher``, keeps its lifecycle events in its
/// own ``LifecycleEventLog``, and records the app's output lines and the first ready instance.
struct SupervisorHarness: Sendable {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let fixtures = repository + "/tests/fixtures"

    /// feisty's launcher: the probe source as the binary embeds it.
    static let launcherSource = EmbeddedPython.commandLine

    final class Recorder: Sendable {
        /// What `onFirstReady` was called with, in order (it must be called once).
        let firstReady = Mutex<[AppInstance]>([])
        /// feisty's scratch directory, read from the first instance's command line while it ran.
        let scratch = Mutex<String?>(nil)
        let lines = Mutex<[(AppOutputStream, String)]>([])
    }

    struct RecordingOutput: AppOutputSink {
        let recorder: Recorder
        func appWrote(_ lines: [String], on stream: AppOutputStream) {
            recorder.lines.withLock { $0 += lines.map { (stream, $0) } }
            // Keep the app's output visible in the test log, as feisty shows it.
            StandardStreamsAppOutput().appWrote(lines, on: stream)
        }
    }

    var configuration: AppLaunchConfiguration
    var policy = AppSupervisor.Policy()
    let recorder = Recorder()
    let routing: RoutingPublisher
    let events = LifecycleEventLog()
    var logger: Logger = {
        var logger = Logger(label: "feisty.supervisor.test")
        logger.logLevel = .info
        return logger
    }()
    let supervisor: AppSupervisor

    init(app: String) {
        self.configuration = AppLaunchConfiguration(
            app: app,
            startupTimeout: .seconds(20),
            grace: .seconds(5),
            restartPolicy: RestartPolicy(initialDelay: .milliseconds(50)),
            launcherSource: Self.launcherSource
        )
        self.routing = RoutingPublisher(matcher: nil)
        self.supervisor = Self.supervisor(
            configuration: configuration,
            policy: policy,
            routing: routing,
            events: events,
            logger: logger,
            recorder: recorder
        )
    }

    /// A supervisor for the (possibly modified) configuration and policy, recording into the same recorder, routing
    /// publisher and event log.
    func makeSupervisor() -> AppSupervisor {
        Self.supervisor(
            configuration: configuration,
            policy: policy,
            routing: routing,
            events: events,
            logger: logger,
            recorder: recorder
        )
    }

    private static func supervisor(
        configuration: AppLaunchConfiguration,
        policy: AppSupervisor.Policy,
        routing: RoutingPublisher,
        events: LifecycleEventLog,
        logger: Logger,
        recorder: Recorder
    ) -> AppSupervisor {
        AppSupervisor(
            configuration: configuration,
            policy: policy,
            routing: routing,
            events: events,
            logger: logger,
            output: RecordingOutput(recorder: recorder),
            onFirstReady: { [recorder] instance in
                // The launcher's `--report SCRATCH/instance-N.json` names feisty's scratch directory (recorded first:
                // tests wait for `firstReady`).
                if let report = Self.argument(after: "--report", ofProcess: instance.processID) {
                    recorder.scratch.withLock { $0 = (report as NSString).deletingLastPathComponent }
                }
                recorder.firstReady.withLock { $0.append(instance) }
            }
        )
    }

    /// The lifecycle events so far, oldest first.
    var recorded: [LifecycleEvent] { events.recent }

    /// The instances that became ready, in order.
    var readyIDs: [Int] { recorded.filter { $0.kind == .ready }.compactMap(\.instance) }

    /// The instances the proxy routes to now.
    var published: [Int] { routing.current.pool.instances.map(\.id) }

    /// The published instance `id`.
    func upstream(_ id: Int) -> UpstreamInstance? { routing.current.pool.instances.first { $0.id == id } }

    /// The instance `onFirstReady` announced, within 20 s.
    func firstReady() async throws -> AppInstance {
        try await waitUntil("a ready instance") { recorder.firstReady.withLock { $0.first } }
    }

    /// Waits until the proxy routes to exactly `ids` (in start order), within 20 s.
    func waitForPublished(_ ids: [Int]) async throws {
        _ = try await waitUntil("instances \(ids) published") { published == ids ? true : nil }
    }

    /// Waits until the event log holds an event satisfying `matches`, within 20 s; that event.
    @discardableResult
    func waitForEvent(_ what: String, _ matches: @escaping (LifecycleEvent) -> Bool) async throws -> LifecycleEvent {
        try await waitUntil(what) { recorded.first(where: matches) }
    }

    /// Polls `value` every 20 ms until it is not nil.
    func waitUntil<T>(
        _ what: String,
        within limit: Duration = .seconds(20),
        _ value: () -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let value = value() { return value }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SupervisorError(
            .startupTimedOut,
            "no \(what) within \(limit); published \(published); events: \(recorded.map { "\($0.kind) \($0.instance ?? 0): \($0.cause)" })"
        )
    }

    /// The process group of instance `id` (its launcher's PID), found by its report path while it runs.
    func processGroup(ofInstance id: Int) throws -> Int32 {
        let scratch = try #require(recorder.scratch.withLock { $0 })
        let report = "\(scratch)/instance-\(id).json"
        let launchers = Self.processes(runningFile: report).filter {
            Self.argument(after: "--report", ofProcess: $0) == report
        }
        return try #require(launchers.first, "no launcher for instance \(id)")
    }

    /// Runs the supervisor (`chosen`, else the harness's own) while `body` runs, then stops it and checks it returned
    /// normally, that no instance's process survived and that the scratch directory is gone.
    func whileRunning(_ chosen: AppSupervisor? = nil, _ body: (AppSupervisor) async throws -> Void) async throws {
        let supervisor = chosen ?? self.supervisor
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await supervisor.run() }
            do {
                try await body(supervisor)
            } catch {
                supervisor.stop()
                try? await tasks.waitForAll()
                throw error
            }
            supervisor.stop()
            try await tasks.waitForAll()
        }
        for instance in recorder.firstReady.withLock({ $0 }) {
            #expect(!Self.groupIsAlive(instance.processID), "process group \(instance.processID) survived the stop")
        }
        if let scratch = recorder.scratch.withLock({ $0 }) {
            #expect(Self.processes(runningFile: scratch + "/").isEmpty, "an instance survived the stop")
            #expect(!FileManager.default.fileExists(atPath: scratch), "the scratch directory outlived the supervisor")
        }
        #expect(recorded.last?.kind == .stop, "the last event: \(recorded.last.map { "\($0)" } ?? "none")")
    }

    /// The first output line on `stream` satisfying `matches`, within 10 s.
    func waitForLine(on stream: AppOutputStream, _ matches: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let found = recorder.lines.withLock { lines in lines.first { $0.0 == stream && matches($0.1) }?.1 }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SupervisorError(.startupTimedOut, "no matching line on \(stream)")
    }

    /// Whether any process of the group still exists (zombies included until reaped).
    static func groupIsAlive(_ group: Int32) -> Bool {
        kill(-group, 0) == 0 || errno != ESRCH
    }

    /// The command line of `pid`, argument by argument.
    static func commandLine(of pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The argument after `flag` on `pid`'s command line.
    static func argument(after flag: String, ofProcess pid: Int32) -> String? {
        let arguments = commandLine(of: pid)
        guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    /// PIDs of live (non-zombie) processes whose command line mentions `file`.
    static func processes(runningFile file: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: cmdline, as: UTF8.self).contains(file),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let state = stat.split(separator: ")").last?.split(separator: " ").first,
                state != "Z"
            else { return nil }
            return pid
        }
    }

    /// The app address behind a published instance (what curl needs).
    static func appAddress(_ address: SocketAddress) throws -> AppAddress {
        if let path = address.pathname { return .unixSocket(path: path) }
        let host = try #require(address.ipAddress)
        let port = try #require(address.port)
        return .tcp(ListenAddress(host: host, port: port))
    }

    /// GET `path` from the app at `address` with curl; the body.
    static func get(_ address: AppAddress, _ path: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        switch address {
        case .unixSocket(let socket):
            process.arguments = ["curl", "-sS", "--max-time", "5", "--unix-socket", socket, "http://localhost\(path)"]
        case .tcp(let address):
            process.arguments = ["curl", "-sS", "--max-time", "5", "http://\(address)\(path)"]
        }
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `source` as `app.py` in a new temporary directory; its path.
    static func writeApp(_ source: String, name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("feisty-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/app.py"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A Flask app answering `/` with `version`.
    static func versionedApp(_ version: String) -> String {
        """
        from flask import Flask

        VERSION = "\(version)"
        app = Flask(__name__)


        @app.route("/")
        def index():
            return VERSION


        if __name__ == "__main__":
            app.run(port=5071)

        """
    }
}
