#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Logging
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs one instance of the app under feisty's launcher, from spawn to reaped exit: streams its output,
/// watches its readiness, publishes it once ready, and stops it (SIGTERM to its process group, SIGKILL after
/// the grace period) when asked.
struct AppInstanceRunner: Sendable {
    /// The launch options.
    var configuration: AppLaunchConfiguration
    /// The instance number, from 1.
    var generation: Int
    /// Where the app must listen.
    var bind: AppAddress
    /// Where the launcher writes this instance's report.
    var reportPath: String
    /// feisty's own log.
    var logger: Logger
    /// Where the app's output lines go.
    var output: any AppOutputSink
    /// Set when feisty shuts down.
    var stop: StopSignal
    /// Called once the process is spawned, with its process group ID.
    var onSpawn: @Sendable (Int32) -> Void = { _ in }
    /// Called once, when the instance is ready.
    var onReady: @Sendable (AppInstance) -> Void

    /// What happened inside the `Subprocess.run` body (everything but the exit status).
    private struct BodyOutcome: Sendable {
        var processID: Int32 = 0
        var becameReady = false
        var stopRequested = false
        var readinessFailure: SupervisorError?
        var errorLines = ErrorLines()
        var outputLines = ErrorLines()
    }

    /// What one concurrent part of the body reports to the body's loop.
    private enum BodyEvent: Sendable {
        case outputClosed(ErrorLines)
        case errorClosed(ErrorLines)
        case ready
        case readinessFailed(SupervisorError)
        case stopRequested
        case finished
    }

    /// Spawns the instance and returns when it has exited and been reaped.
    /// - Returns: How the instance ended.
    /// - Throws: ``SupervisorError`` when it cannot be spawned at all.
    func run() async throws(SupervisorError) -> SupervisorStateMachine.InstanceExit {
        try? FileManager.default.removeItem(atPath: reportPath)

        var options = PlatformOptions()
        // Own session, so the app and everything it forks form one process group feisty can signal as a whole.
        options.createSession = true
        // Used by swift-subprocess when the supervising task is cancelled.
        options.teardownSequence = teardownSequence

        let executable: Executable =
            configuration.python.contains("/") ? .path(FilePath(configuration.python)) : .name(configuration.python)
        var environment: [Environment.Key: String?] = [:]
        if ProcessInfo.processInfo.environment["PYTHONUNBUFFERED"] == nil {
            // A terminal makes Python line-buffered; a pipe would hold the app's prints back for kilobytes.
            environment["PYTHONUNBUFFERED"] = "1"
        }
        for (key, value) in configuration.environment {
            environment[Environment.Key(rawValue: key)!] = value
        }
        let arguments =
            ["-c", configuration.launcherSource]
            + configuration.launcherArguments(bind: bind, reportPath: reportPath)
        let workingDirectory = configuration.workingDirectory.map { FilePath($0) }

        logger.info(
            "starting the app",
            metadata: ["app": "\(configuration.app)", "internal": "\(bind)", "generation": "\(generation)"]
        )
        let startedAt = ContinuousClock.now
        let result: ExecutionResult<BodyOutcome, SequenceOutput, SequenceOutput>
        do {
            // stdin is a pipe whose write end (close-on-exec) feisty holds for the child's whole life: when feisty
            // dies, even by SIGKILL, the launcher reads EOF and kills its process group.
            result = try await Subprocess.run(
                executable,
                arguments: Arguments(arguments),
                environment: .inherit.updating(environment),
                workingDirectory: workingDirectory,
                platformOptions: options,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                await supervise(execution, startedAt: startedAt)
            }
        } catch {
            throw SupervisorError(.spawnFailed, "cannot start \(configuration.python): \(error)")
        }
        let exitedAt = ContinuousClock.now
        let outcome = result.closureResult
        // The launcher is reaped; anything it left behind in its group (workers, forked helpers) goes too.
        Self.killGroupRemains(result.processIdentifier.value)

        let status = Self.describe(result.terminationStatus)
        return SupervisorStateMachine.InstanceExit(
            startedAt: startedAt,
            exitedAt: exitedAt,
            status: status,
            becameReady: outcome.becameReady,
            stopRequested: outcome.stopRequested,
            readinessFailure: outcome.readinessFailure,
            // The launcher's JSON error may come on either stream; otherwise stderr is where Python explains.
            errorLine: outcome.errorLines.launcherError ?? outcome.outputLines.launcherError
                ?? outcome.errorLines.explanation(afterReady: outcome.becameReady)
        )
    }

    private var teardownSequence: [TeardownStep] {
        [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: configuration.grace)]
    }

    /// The body of `Subprocess.run`: everything that needs the live `Execution`, which must not escape it.
    private func supervise(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        startedAt: ContinuousClock.Instant
    ) async -> BodyOutcome {
        var outcome = BodyOutcome()
        outcome.processID = execution.processIdentifier.value
        let processID = outcome.processID
        onSpawn(processID)
        logger.debug("app spawned", metadata: ["pid": "\(processID)"])

        return await withTaskGroup(of: BodyEvent.self) { group in
            // Both pipes are drained concurrently: a full pipe would block the app.
            group.addTask { .outputClosed(await relay(execution.standardOutput, from: .standardOutput)) }
            group.addTask { .errorClosed(await relay(execution.standardError, from: .standardError)) }
            group.addTask {
                await watchReadiness(processID: processID, startedAt: startedAt)
            }
            group.addTask {
                await stop.wait()
                return Task.isCancelled ? .finished : .stopRequested
            }

            var openStreams = 2
            var tearingDown = false
            func tearDown() {
                guard !tearingDown else { return }
                tearingDown = true
                group.addTask {
                    await execution.teardown(using: teardownSequence)
                    return .finished
                }
            }
            // Both streams end when the launcher exits (swift-subprocess cancels their I/O then).
            while openStreams > 0, let event = await group.next() {
                switch event {
                case .outputClosed(let lines):
                    openStreams -= 1
                    outcome.outputLines = lines
                case .errorClosed(let lines):
                    openStreams -= 1
                    outcome.errorLines = lines
                case .ready:
                    outcome.becameReady = true
                case .readinessFailed(let failure):
                    outcome.readinessFailure = failure
                    logger.error("\(failure.message); stopping the app", metadata: ["pid": "\(processID)"])
                    tearDown()
                case .stopRequested:
                    outcome.stopRequested = true
                    logger.info(
                        "stopping the app (SIGTERM to its process group, SIGKILL after \(configuration.grace.formattedSeconds))",
                        metadata: ["pid": "\(processID)"]
                    )
                    tearDown()
                case .finished:
                    break
                }
            }
            group.cancelAll()
            return outcome
        }
    }

    /// Below this many bytes a read is followed by a pause before the next one (see ``relay(_:from:)``).
    private static let smallReadBytes = 4096
    /// The pause after a small read.
    private static let batchingPause = Duration.milliseconds(50)

    /// Passes one of the app's output streams through until it ends; returns what its lines say about an exit.
    ///
    /// The Werkzeug dev server logs every request on stderr, a line at a time: read as it comes, each line cost
    /// feisty a task wake-up, a read and a write, about 100 us of CPU a request under load (a third of feisty's share,
    /// measured with `bench/proxy_bench.sh PART=launch`). After a small read the relay pauses for ``batchingPause``,
    /// so lines pile up in the pipe and one read, one split and one write carry all of them (20 ms: 24 us a request,
    /// 50 ms: 14 us, 100 ms: 12 us). What remains is swift-subprocess's I/O thread, which keeps the pipe registered
    /// edge-triggered between reads and so still wakes once per line the app writes. A line that arrives while the
    /// relay waits is passed on at once; only lines arriving during a pause wait, at most ``batchingPause``. A full
    /// read goes on at once: a chatty app is never slowed by the pause.
    private func relay(_ stream: SubprocessOutputSequence, from kind: AppOutputStream) async -> ErrorLines {
        var splitter = OutputLineSplitter()
        var lines = ErrorLines()
        do {
            for try await buffer in stream {
                let complete = buffer.withUnsafeBytes { splitter.lines(in: $0) }
                if !complete.isEmpty {
                    output.appWrote(complete, on: kind)
                    for line in complete { lines.observe(line) }
                }
                if buffer.count < Self.smallReadBytes { try? await Task.sleep(for: Self.batchingPause) }
            }
        } catch {
            logger.debug("app \(kind) ended: \(error)")
        }
        if let last = splitter.finish() {
            output.appWrote([last], on: kind)
            lines.observe(last)
        }
        return lines
    }

    /// Drives ``ReadinessCheck`` until the instance is ready (and published) or will not become ready.
    private func watchReadiness(processID: Int32, startedAt: ContinuousClock.Instant) async -> BodyEvent {
        var check = ReadinessCheck(
            startedAt: startedAt,
            timeout: configuration.startupTimeout,
            retryInterval: configuration.readinessInterval
        )
        var action = check.start()
        while !Task.isCancelled {
            switch action {
            case .readReport:
                action = check.reportRead(readReport(), now: .now)
            case .probeHTTP(let address, let path):
                let answered = await HTTPReadinessProbe.answers(address, path: configuration.healthPath ?? path)
                action = check.httpProbed(answered: answered, now: .now)
            case .wait(let delay):
                do { try await Task.sleep(for: delay) } catch { return .finished }
                action = check.waited(now: .now)
            case .ready(let report):
                let instance = AppInstance(
                    processID: processID,
                    generation: generation,
                    internalAddress: report.bind,
                    routeTable: report.table,
                    requestedAddress: report.requested,
                    errorPages: report.errorPages
                )
                logger.info(
                    "app ready",
                    metadata: [
                        "pid": "\(processID)", "internal": "\(report.bind)", "rules": "\(report.table.rules.count)",
                        "requested": "\(report.requested.map { $0.description } ?? "none")",
                    ]
                )
                onReady(instance)
                return .ready
            case .fail(let failure):
                return .readinessFailed(failure)
            }
        }
        return .finished
    }

    private func readReport() -> ReadinessCheck.ReportOutcome {
        guard let data = FileManager.default.contents(atPath: reportPath) else { return .missing }
        do {
            return .decoded(try JSONDecoder().decode(LaunchReport.self, from: data))
        } catch {
            return .malformed("\(reportPath): \(error)")
        }
    }

    /// `exit code 1`, `signal 9 (SIGKILL)`.
    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code):
            return "exit code \(code)"
        case .signaled(let signal):
            return describe(signal: signal)
        }
    }

    /// `signal 9 (SIGKILL)`.
    static func describe(signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL",
            SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGBUS: "SIGBUS",
        ]
        return "signal \(signal)" + (names[signal].map { " (\($0))" } ?? "")
    }

    /// SIGKILLs whatever is left of the (already reaped) launcher's process group; nothing left is the norm.
    static func killGroupRemains(_ processGroup: Int32) {
        guard processGroup > 1 else { return }
        _ = kill(-processGroup, SIGKILL)
    }
}
