import Foundation
import Logging
import ServiceLifecycle

/// Runs the user's app behind feisty for as long as feisty runs: launches it on an internal address (a Unix socket
/// in feisty's private scratch directory, or a loopback port), passes its output through, publishes each ready
/// instance, restarts it when it crashes, and stops its whole process group on graceful shutdown (SIGTERM, then
/// SIGKILL after the grace period).
///
/// `run()` returns normally after a graceful shutdown and throws ``SupervisorError`` when the app cannot be
/// served: it failed before it ever became ready, or it kept crashing.
///
/// Intended wiring in `feisty run` (the proxy publishes from `onEvent`; put the supervisor first so that
/// ServiceGroup's reverse-order graceful shutdown drains the proxy before the app is stopped):
///
/// ```swift
/// let supervisor = AppSupervisor(configuration: launch, logger: logger) { event in
///     switch event {
///     case .ready(let instance): routing.publish(instance)   // first time: bind instance.requestedAddress
///     case .unavailable: routing.publishNoUpstream()          // the proxy answers 503
///     }
/// }
/// let group = ServiceGroup(configuration: .init(
///     services: [supervisor, proxy], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()   // a SupervisorError here: print its message, exit 1
/// ```
public final class AppSupervisor: Service, Sendable {
    private let configuration: AppLaunchConfiguration
    private let logger: Logger
    private let output: any AppOutputSink
    private let onEvent: @Sendable (AppSupervisorEvent) -> Void
    private let stopSignal = StopSignal()

    /// Creates a supervisor.
    /// - Parameters:
    ///   - configuration: How to launch the app.
    ///   - logger: feisty's log (start, ready, exit status, restarts).
    ///   - output: Where the app's stdout/stderr lines go; prefixed passthrough to feisty's own streams by default.
    ///   - onEvent: Called in order with each ready instance and each loss of the upstream. Keep it quick: it runs
    ///     on the supervisor's task (publishing a routing snapshot is the intended use).
    public init(
        configuration: AppLaunchConfiguration,
        logger: Logger,
        output: any AppOutputSink = StandardStreamsAppOutput(),
        onEvent: @escaping @Sendable (AppSupervisorEvent) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.output = output
        self.onEvent = onEvent
    }

    /// Stops the app (as graceful shutdown does) and makes `run()` return once it has exited.
    public func stop() {
        stopSignal.stop()
    }

    /// Supervises the app until graceful shutdown, ``stop()`` or cancellation.
    /// - Throws: ``SupervisorError`` when the app never became ready or the restart policy gave up.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await supervise()
        } onGracefulShutdown: { [stopSignal] in
            stopSignal.stop()
        }
    }

    private func supervise() async throws {
        let scratch = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var machine = SupervisorStateMachine(policy: configuration.restartPolicy)
        var generation = 0
        while !stopSignal.isStopped {
            try Task.checkCancellation()
            generation += 1
            let bind = try internalAddress(generation: generation, scratch: scratch)
            let reportPath = "\(scratch)/instance-\(generation).json"
            let runner = AppInstanceRunner(
                configuration: configuration,
                generation: generation,
                bind: bind,
                reportPath: reportPath,
                logger: logger,
                output: output,
                stop: stopSignal,
                onReady: { [onEvent] instance in onEvent(.ready(instance)) }
            )
            let exit = try await runner.run()
            // The instance is gone: its report was read when it became ready, its socket serves nobody.
            try? FileManager.default.removeItem(atPath: reportPath)
            if case .unixSocket(let path) = bind { try? FileManager.default.removeItem(atPath: path) }
            let action = machine.instanceExited(exit)
            if exit.becameReady {
                onEvent(
                    .unavailable(reason: exit.stopRequested ? "the app is stopping" : "the app exited (\(exit.status))")
                )
            }
            switch action {
            case .finish:
                logger.info("app stopped", metadata: ["status": "\(exit.status)"])
                return
            case .fail(let error):
                logger.error("\(error.message)")
                throw error
            case .restart(let delay, let reason):
                logger.error("\(reason); restarting it in \(delay.formattedSeconds)")
                await sleepUnlessStopped(delay)
            }
        }
    }

    /// Sleeps for the backoff delay, cut short by a stop request or cancellation.
    private func sleepUnlessStopped(_ delay: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask { [stopSignal] in await stopSignal.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// A new socket per instance: a stopping instance may still hold the previous one.
    private func internalAddress(generation: Int, scratch: String) throws(SupervisorError) -> AppAddress {
        let socket = "\(scratch)/app-\(generation).sock"
        if configuration.transport == .unix && socket.utf8.count <= AppAddress.maximumSocketPathBytes {
            return .unixSocket(path: socket)
        }
        if configuration.transport == .unix && generation == 1 {
            logger.warning(
                "the scratch directory's path is too long for a Unix socket (\(socket)); using a loopback port"
            )
        }
        return .tcp(ListenAddress(host: "127.0.0.1", port: try LoopbackPort.pickFree()))
    }

    /// Reports and sockets live here. Mode 0700: the app's socket is reachable by feisty's user only.
    private func makeScratchDirectory() throws(SupervisorError) -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("feisty-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw SupervisorError(.environment, "cannot create feisty's scratch directory \(path): \(error)")
        }
        return path
    }
}
