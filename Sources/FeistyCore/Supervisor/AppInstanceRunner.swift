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
    /// Where the launcher writes this instance's report.
    var reportPath: String
    /// feisty's own log.
    var logger: Logger
    /// Where the app's output lines go.
    var output: any AppOutputSink
    /// Set when feisty shuts down.
    var stop: StopSignal
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
        let bind = ListenAddress(host: "127.0.0.1", port: try LoopbackPort.pickFree())
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
        logger.debug("app spawned", metadata: ["pid": "\(processID)"])

        return await withTaskGroup(of: BodyEvent.self) { group in
            // Both pipes are drained concurrently: a full pipe would block the app.
            group.addTask {
                var lines = ErrorLines()
                do {
                    for try await line in execution.standardOutput.strings(bufferingPolicy: .unbounded) {
                        output.appWrote(line, on: .standardOutput)
                        lines.observe(line)
                    }
                } catch {
                    logger.debug("app stdout ended: \(error)")
                }
                return .outputClosed(lines)
            }
            group.addTask {
                var lines = ErrorLines()
                do {
                    for try await line in execution.standardError.strings(bufferingPolicy: .unbounded) {
                        output.appWrote(line, on: .standardError)
                        lines.observe(line)
                    }
                } catch {
                    logger.debug("app stderr ended: \(error)")
                }
                return .errorClosed(lines)
            }
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
            case .probeHTTP(let address):
                let answered = await HTTPReadinessProbe.answers(address)
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
                    requestedAddress: report.requested
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
