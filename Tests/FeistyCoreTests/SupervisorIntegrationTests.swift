#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Logging
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
            let instance = try await harness.nextReady()
            #expect(instance.generation == 1)
            // A Unix socket in a directory only feisty's user may enter: nothing else reaches the app around the gate.
            guard case .unixSocket(let socketPath) = instance.internalAddress else {
                Issue.record("expected a Unix socket, got \(instance.internalAddress)")
                return
            }
            let directory = (socketPath as NSString).deletingLastPathComponent
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
            #expect(try await SupervisorHarness.get(instance.internalAddress, "/2024") == "2024")
            // The app's stderr (Werkzeug's request log) arrives line by line, whole.
            #expect(
                try await harness.waitForLine(on: .standardError) { $0.contains("GET /2024") }
                    .hasSuffix("\"GET /2024 HTTP/1.1\" 200 -")
            )
            #expect(SupervisorHarness.groupIsAlive(instance.processID))

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(!SupervisorHarness.groupIsAlive(instance.processID))
            #expect(harness.events.last == .unavailable(reason: "the app is stopping"))
            #expect(!FileManager.default.fileExists(atPath: directory), "the scratch directory outlived the supervisor")
        }
    }

    @Test func passesStdoutAndStderrThrough() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/chatty_app.py")
        try await harness.whileRunning { _ in
            _ = try await harness.nextReady()
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
        let supervisor = harness.makeSupervisor()
        try await harness.whileRunning(supervisor) { _ in
            let first = try await harness.nextReady()
            #expect(kill(first.processID, SIGKILL) == 0)
            let second = try await harness.nextReady()
            #expect(second.generation == 2)
            #expect(second.processID != first.processID)
            #expect(second.routeTable == first.routeTable)
            guard case .tcp(let address) = second.internalAddress else {
                Issue.record("expected a loopback port, got \(second.internalAddress)")
                return
            }
            #expect(address.host == "127.0.0.1" && address.port != 8080)
            #expect(second.internalAddress != first.internalAddress)
            #expect(try await SupervisorHarness.get(second.internalAddress, "/1999") == "1999")
            #expect(harness.events.contains(.unavailable(reason: "the app exited (signal 9 (SIGKILL))")))
            #expect(!SupervisorHarness.groupIsAlive(first.processID))
        }
    }

    @Test func aCrashLoopGivesUpWithAClearError() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/crash_after_ready.py")
        harness.configuration.environment["CRASH_AFTER"] = "0.3"
        harness.configuration.restartPolicy = RestartPolicy(initialDelay: .milliseconds(50), maximumCrashes: 1)
        let supervisor = harness.makeSupervisor()
        let error = await #expect(throws: SupervisorError.self) { try await supervisor.run() }
        #expect(error?.code == .crashLoop)
        // os._exit leaves no exception line, and Werkzeug's banner or request log must not pose as one.
        #expect(error?.message == "the app crashed 2 times within 60 s, giving up (exit code 3)")
        // It was up, crashed, was restarted once, crashed again.
        #expect(harness.readyInstances.map(\.generation) == [1, 2])
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
        #expect(harness.readyInstances.isEmpty)
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
    }

    @Test func aStopWhileStartingEndsCleanly() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.fixtures + "/slow_start.py")
        harness.configuration.grace = .seconds(2)
        let supervisor = harness.makeSupervisor()
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
        #expect(harness.readyInstances.isEmpty)
        #expect(SupervisorHarness.processes(runningFile: "slow_start.py").isEmpty)
    }

    @Test func aMissingInterpreterIsASpawnError() async throws {
        var harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        harness.configuration.python = "/nonexistent/python3"
        let supervisor = harness.makeSupervisor()
        let error = await #expect(throws: SupervisorError.self) { try await supervisor.run() }
        #expect(error?.code == .spawnFailed)
        #expect(error?.message.hasPrefix("cannot start /nonexistent/python3") == true)
    }

    /// The launcher's liveness pipe: its stdin is a pipe whose write end only feisty holds (close-on-exec),
    /// so the app sees EOF as soon as feisty dies, however it dies.
    @Test func onlyFeistyHoldsTheWriteEndOfTheAppsStdin() async throws {
        let harness = SupervisorHarness(app: SupervisorHarness.repository + "/examples/seed/app.py")
        try await harness.whileRunning { _ in
            let instance = try await harness.nextReady()
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

/// Runs an ``AppSupervisor`` in tests: records its events and the app's output lines.
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
        let events = Mutex<[AppSupervisorEvent]>([])
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
    let recorder = Recorder()
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
        self.supervisor = AppSupervisor(
            configuration: configuration,
            logger: logger,
            output: RecordingOutput(recorder: recorder),
            onEvent: { [recorder] event in recorder.events.withLock { $0.append(event) } }
        )
    }

    /// A supervisor for the (possibly modified) configuration, recording into the same recorder.
    func makeSupervisor() -> AppSupervisor {
        AppSupervisor(
            configuration: configuration,
            logger: logger,
            output: RecordingOutput(recorder: recorder),
            onEvent: { [recorder] event in recorder.events.withLock { $0.append(event) } }
        )
    }

    var events: [AppSupervisorEvent] { recorder.events.withLock { $0 } }

    var readyInstances: [AppInstance] {
        events.compactMap { if case .ready(let instance) = $0 { instance } else { nil } }
    }

    /// Runs the supervisor (`chosen`, else the harness's own) while `body` runs, then stops it and checks it returned
    /// normally.
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
        for instance in readyInstances {
            #expect(!Self.groupIsAlive(instance.processID), "process group \(instance.processID) survived the stop")
        }
    }

    /// The next ready instance not seen before (by generation), within 20 s.
    func nextReady(after seen: Int? = nil) async throws -> AppInstance {
        let already = seen ?? readyInstances.count
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let ready = readyInstances
            if ready.count > already { return ready[already] }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SupervisorError(.startupTimedOut, "no ready instance within 20 s; events: \(events)")
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
}
