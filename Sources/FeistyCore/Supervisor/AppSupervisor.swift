#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Logging
import NIOCore
import Synchronization
import ServiceLifecycle
import UnixSignals

/// Runs the user's app behind feisty for as long as feisty runs: a pool of instances, each launched on its own
/// internal address (a Unix socket in feisty's private scratch directory, or a loopback port), published to the
/// proxy once ready, watched (crash, hang, memory, preventive recycling, slowness) and replaced by a swap, swapped
/// one at a time to the code on disk on SIGHUP (a deploy), and stopped on graceful shutdown (SIGTERM to each
/// process group, SIGKILL after the grace period; at once on a second signal).
///
/// Decisions come from ``SupervisorStateMachine`` and the detectors of `Health/`; this class performs them.
/// `run()` returns after a graceful shutdown and throws ``SupervisorError`` when the app never became ready.
public final class AppSupervisor: Service, Sendable {
    /// What the supervisor watches and how it shapes the pool.
    public struct Policy: Sendable {
        /// `--workers`.
        public var workers = 1
        /// `--standby`.
        public var standby = false
        /// `--no-overlap`.
        public var noOverlap = false
        /// `--hang-timeout` (`nil`: hangs are not looked for).
        public var hangTimeout: Duration? = .seconds(10)
        /// Idle instances are probed after this long without traffic (`nil`: never).
        public var idleProbeInterval: Duration? = .seconds(30)
        /// `--max-rss` in bytes (`nil`: no limit).
        public var maxResidentBytes: Int64?
        /// `--max-requests`, `--max-age`.
        public var recycle = RecyclePolicy(maxRequests: nil, maxAge: nil)
        /// `--slow-factor`, `--slow-window` (`nil`: slowness is not looked for).
        public var slowness: SlownessWatch? = SlownessWatch()

        /// The defaults of `feisty run`.
        public init() {}
    }

    private enum Input: Sendable {
        case ready(Int, AppInstance)
        case exited(Int, SupervisorStateMachine.InstanceExit)
        case drained(Int)
        case probed(Int, answered: Bool)
        case tick
        case latencies([Int: [Int: LatencyHistogram]])
        case reload
        case recycle(Int)
        case stop
    }

    /// What the supervisor knows of one instance besides the state machine's slot.
    private struct Tracked {
        var stop = StopSignal()
        var processID: Int32?
        var instance: AppInstance?
        var upstream: UpstreamInstance?
        var readyAt: ContinuousClock.Instant?
        var hang: HangDetector?
        var memory: MemoryWatch?
        var recycle: RecycleLimits?
        var launchedAt = Date()
    }

    private let configuration: AppLaunchConfiguration
    private let policy: Policy
    private let routing: RoutingPublisher
    private let latencies: LatencyCollection?
    private let events: LifecycleEventLog
    private let logger: Logger
    private let output: any AppOutputSink
    private let beforeFirstLaunch: @Sendable () async throws -> Void
    private let onFirstReady: @Sendable (AppInstance) -> Void
    private let notifier: SystemdNotifier?
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation
    private let processGroups = Mutex<Set<Int32>>([])
    private let published = Mutex(PoolStatus())

    /// Creates a supervisor.
    /// - Parameters:
    ///   - configuration: How to launch the app.
    ///   - policy: The pool's shape and the detectors' settings.
    ///   - routing: Where ready instances are published for the proxy.
    ///   - latencies: The proxy's response times (for slowness), if it collects them.
    ///   - events: Where lifecycle events are kept.
    ///   - logger: feisty's log.
    ///   - output: Where the app's stdout/stderr lines go; prefixed passthrough to feisty's own streams by default.
    ///   - beforeFirstLaunch: Awaited before the first instance starts (the proxy binds its public address first).
    ///   - onFirstReady: Called once, with the first instance that became ready.
    ///   - notifier: Told of failures and the serving instances (systemd's `STATUS=`); a reload's `RELOADING=1` is
    ///     the `ReloadCoordinator`'s.
    public init(
        configuration: AppLaunchConfiguration,
        policy: Policy = Policy(),
        routing: RoutingPublisher,
        latencies: LatencyCollection? = nil,
        events: LifecycleEventLog = LifecycleEventLog(),
        logger: Logger,
        output: any AppOutputSink = StandardStreamsAppOutput(),
        beforeFirstLaunch: @escaping @Sendable () async throws -> Void = {},
        onFirstReady: @escaping @Sendable (AppInstance) -> Void = { _ in },
        notifier: SystemdNotifier? = nil
    ) {
        self.configuration = configuration
        self.policy = policy
        self.routing = routing
        self.latencies = latencies
        self.events = events
        self.logger = logger
        self.output = output
        self.beforeFirstLaunch = beforeFirstLaunch
        self.onFirstReady = onFirstReady
        self.notifier = notifier
        (inputs, input) = AsyncStream.makeStream(of: Input.self)
    }

    /// Stops the app (as graceful shutdown does) and makes `run()` return once every instance has exited.
    public func stop() { input.yield(.stop) }

    /// Swaps every instance, one at a time, for one running the code now on disk (what SIGHUP does).
    public func reload() { input.yield(.reload) }

    /// The instances now (updated after every input the supervisor handled).
    public var status: PoolStatus { published.withLock { $0 } }

    /// Swaps ready instance `id` for a fresh one (the admin API's recycle); `false` when `id` is not ready.
    public func recycle(instance id: Int) -> Bool {
        guard status.isReady(id) else { return false }
        input.yield(.recycle(id))
        return true
    }

    /// Supervises the app until graceful shutdown, ``stop()`` or cancellation (a second SIGTERM/SIGINT: every
    /// instance's process group is killed at once).
    /// - Throws: ``SupervisorError`` when the app never became ready.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await supervise()
            } onGracefulShutdown: { [input] in
                input.yield(.stop)
            }
        } onCancel: { [self] in
            killAll()
        }
    }

    /// SIGKILLs every instance's process group now (feisty is about to exit at once).
    public func killAll() {
        for group in processGroups.withLock({ $0 }) { _ = kill(-group, SIGKILL) }
    }

    private func supervise() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            // SIGHUP is trapped by the ReloadCoordinator, which calls reload() after the configuration's reload.
            try await beforeFirstLaunch()
            // Made after `beforeFirstLaunch`: feisty may have become another user there (`--user`), who owns it.
            let scratch = try makeScratchDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            group.addTask { [input] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.tickInterval)
                    input.yield(.tick)
                }
            }
            if let latencies, let window = policy.slowness?.window {
                group.addTask { [input] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: window)
                        input.yield(.latencies(await latencies.harvest()))
                    }
                }
            }
            var run = RunState(
                machine: SupervisorStateMachine(
                    configuration: .init(
                        workers: policy.workers,
                        standby: policy.standby,
                        noOverlap: policy.noOverlap
                    ),
                    restartPolicy: configuration.restartPolicy
                ),
                slowness: policy.slowness
            )
            var generator = SystemRandomNumberGenerator()
            var done = try perform(run.machine.start(), run: &run, group: &group, scratch: scratch)
            for await event in inputs {
                if done { break }
                let now = ContinuousClock.now
                var actions: [SupervisorStateMachine.Action] = []
                switch event {
                case .ready(let id, let instance):
                    guard run.tracked[id] != nil else { continue }
                    if let address = try? instance.internalAddress.socketAddress() {
                        run.tracked[id]?.upstream = UpstreamInstance(id: id, address: address)
                    }
                    run.tracked[id]?.instance = instance
                    run.tracked[id]?.processID = instance.processID
                    run.tracked[id]?.readyAt = now
                    if let timeout = policy.hangTimeout {
                        run.tracked[id]?.hang = HangDetector(
                            timeout: timeout,
                            idleProbeInterval: policy.idleProbeInterval
                        )
                    }
                    run.tracked[id]?.memory = policy.maxResidentBytes.map { MemoryWatch(limit: $0) }
                    run.tracked[id]?.recycle = policy.recycle.isEnabled ? policy.recycle.limits(using: &generator) : nil
                    if !run.announced {
                        run.announced = true
                        onFirstReady(instance)
                    }
                    actions = run.machine.ready(id)
                case .exited(let id, let exit):
                    if let pid = run.tracked[id]?.processID { _ = processGroups.withLock { $0.remove(pid) } }
                    run.tracked[id]?.upstream?.markFailed(.crashed)
                    actions = run.machine.exited(id, exit)
                    run.tracked[id] = nil
                case .drained(let id):
                    actions = run.machine.drained(id)
                case .probed(let id, let answered):
                    guard var detector = run.tracked[id]?.hang, let upstream = run.tracked[id]?.upstream else {
                        continue
                    }
                    // Progress made while the probe was out counts: the detector sees it only through `check`.
                    _ = detector.check(
                        inFlight: upstream.inFlight,
                        lastProgress: Self.lastProgress(of: upstream, now: now),
                        now: now
                    )
                    let verdict = detector.probeFinished(answered: answered, now: now)
                    run.tracked[id]?.hang = detector
                    if case .hung(let silentFor) = verdict {
                        run.tracked[id]?.upstream?.markFailed(.hung)
                        actions = run.machine.replace(id, cause: .hung(verdict.description), detectedAfter: silentFor)
                    }
                case .tick:
                    actions = watch(&run, now: now, group: &group)
                case .latencies(let windows):
                    actions = judgeSlowness(&run, windows: windows, now: now)
                case .reload:
                    actions = run.machine.deploy()
                case .recycle(let id):
                    actions = run.machine.replace(id, cause: .requested("asked for through the admin API"))
                case .stop:
                    actions = run.machine.stop()
                }
                done = try perform(actions, run: &run, group: &group, scratch: scratch)
                published.withLock { $0 = Self.poolStatus(run) }
                if done { break }
                // A standby that became ready (or left) changes the spares without a publish action.
                if Self.readyStandbys(run.machine) != run.published.spares, !run.published.serving.isEmpty {
                    publish(run.published.serving, run: &run)
                }
            }
            group.cancelAll()
        }
    }

    /// The supervisor's own bookkeeping beside the state machine.
    private struct RunState {
        var machine: SupervisorStateMachine
        var slowness: SlownessWatch?
        var tracked: [Int: Tracked] = [:]
        var announced = false
        var ticks = 0
        var publishedTable: RouteTable?
        var publishedPages: AppErrorPages?
        /// What the proxy routes to now: serving instances and spares.
        var published: (serving: [Int], spares: [Int]) = ([], [])
        /// Completes once every event loop applied the last publication (a drain waits for it).
        var lastPublication: EventLoopFuture<Void>?
    }

    private static let tickInterval = Duration.milliseconds(250)

    private static func poolStatus(_ run: RunState) -> PoolStatus {
        PoolStatus(
            instances: run.machine.slots.values.sorted { $0.id < $1.id }.map { slot in
                let tracked = run.tracked[slot.id]
                return PoolStatus.Instance(
                    id: slot.id,
                    processID: tracked?.processID,
                    state: slot.phase.name,
                    address: tracked?.instance?.internalAddress.description,
                    launchedAt: tracked?.launchedAt ?? Date(),
                    upstream: tracked?.upstream
                )
            }
        )
    }

    /// When `upstream` last showed progress, on the supervisor's clock (the proxy stamps NIO's uptime clock).
    private static func lastProgress(of upstream: UpstreamInstance, now: ContinuousClock.Instant)
        -> ContinuousClock.Instant
    {
        now - .nanoseconds(max(0, (NIODeadline.now() - upstream.lastProgress).nanoseconds))
    }

    /// Looks at every ready instance once per tick: hang, memory (every second), preventive recycling.
    private func watch(
        _ run: inout RunState,
        now: ContinuousClock.Instant,
        group: inout ThrowingDiscardingTaskGroup<any Error>
    ) -> [SupervisorStateMachine.Action] {
        run.ticks += 1
        // One scan of /proc a second for every instance's process group (about 5 ms).
        var memory: [Int32: Int64] = [:]
        if run.ticks % 4 == 0, policy.maxResidentBytes != nil {
            memory = ProcessTreeMemory.residentBytes(ofProcessGroups: Set(run.tracked.values.compactMap(\.processID)))
        }
        var actions: [SupervisorStateMachine.Action] = []
        for id in run.tracked.keys.sorted() {
            guard let tracked = run.tracked[id], let upstream = tracked.upstream,
                run.machine.slots[id]?.phase == .ready
            else { continue }
            if var detector = tracked.hang {
                let check = detector.check(
                    inFlight: upstream.inFlight,
                    lastProgress: Self.lastProgress(of: upstream, now: now),
                    now: now
                )
                run.tracked[id]?.hang = detector
                if check == .probe, let address = tracked.instance?.internalAddress {
                    let path = probePath(tracked.instance?.routeTable)
                    let timeout = detector.probeTimeout
                    group.addTask { [input] in
                        let answered = await HTTPReadinessProbe.answers(address, path: path, timeout: timeout)
                        input.yield(.probed(id, answered: answered))
                    }
                }
            }
            if var watch = tracked.memory, let pid = tracked.processID, let bytes = memory[pid] {
                let verdict = watch.sample(residentBytes: bytes, now: now)
                run.tracked[id]?.memory = watch
                if case .exceeded(_, _, let duration) = verdict {
                    actions += run.machine.replace(
                        id,
                        cause: .memory("\(verdict) (--max-rss)"),
                        detectedAfter: duration
                    )
                    continue
                }
            }
            if let limits = tracked.recycle, let readyAt = tracked.readyAt,
                let reason = limits.reason(served: upstream.served, age: now - readyAt)
            {
                actions += run.machine.replace(id, cause: .recycle(reason.description))
            }
        }
        return actions
    }

    /// Judges one window of response times per instance against the routes' baselines.
    private func judgeSlowness(
        _ run: inout RunState,
        windows: [Int: [Int: LatencyHistogram]],
        now: ContinuousClock.Instant
    ) -> [SupervisorStateMachine.Action] {
        guard var watch = run.slowness else { return [] }
        defer { run.slowness = watch }
        var actions: [SupervisorStateMachine.Action] = []
        for (id, perRule) in windows.sorted(by: { $0.key < $1.key }) where run.machine.slots[id]?.phase == .ready {
            let verdict = watch.windowEnded(instance: id, perRule: perRule, now: now)
            logger.debug(
                "slowness window",
                metadata: [
                    "instance": "\(id)", "verdict": "\(verdict)",
                    "rules": "\(perRule.map { "\($0.key):\($0.value.count)/\($0.value.quantile(0.95) ?? 0)" })",
                ]
            )
            switch verdict {
            case .normal:
                break
            case .slow:
                let before = run.machine.slots.keys
                let replaced = run.machine.replace(id, cause: .slow("\(verdict)"))
                actions += replaced
                for case .launch(let newID, _) in replaced where !before.contains(newID) {
                    watch.swapped(from: id, to: newID)
                }
            case .slowAfterSwap:
                let event = LifecycleEvent(.slow, instance: id, cause: "\(verdict); keeping it")
                actions.append(.record(event))
            }
        }
        return actions
    }

    /// Performs the state machine's actions; returns whether supervision is over.
    private func perform(
        _ actions: [SupervisorStateMachine.Action],
        run: inout RunState,
        group: inout ThrowingDiscardingTaskGroup<any Error>,
        scratch: String
    ) throws -> Bool {
        for action in actions {
            switch action {
            case .launch(let id, let delay):
                let tracked = Tracked()
                run.tracked[id] = tracked
                launch(id: id, after: delay, stop: tracked.stop, scratch: scratch, group: &group)
            case .publish(let ids):
                publish(ids, run: &run)
            case .drain(let id):
                guard let upstream = run.tracked[id]?.upstream else {
                    input.yield(.drained(id))
                    continue
                }
                let grace = configuration.grace
                let publication = run.lastPublication
                group.addTask { [input] in
                    let deadline = ContinuousClock.now + grace
                    // New requests may still be dispatched to it until every event loop took the snapshot without it.
                    try? await publication?.get()
                    while upstream.inFlight > 0, ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    input.yield(.drained(id))
                }
            case .stop(let id):
                run.tracked[id]?.stop.stop()
            case .kill(let id):
                if let pid = run.tracked[id]?.processID { _ = kill(-pid, SIGKILL) }
                run.tracked[id]?.stop.stop()
            case .record(let event):
                record(event)
            case .fail(let error):
                logger.error("\(error.message)")
                for tracked in run.tracked.values { tracked.stop.stop() }
                throw error
            case .finish:
                return true
            }
        }
        return false
    }

    private func record(_ event: LifecycleEvent) {
        events.append(event)
        notifier?.recorded(event)
        var metadata: Logger.Metadata = ["event": "\(event.kind.rawValue)"]
        if let instance = event.instance { metadata["instance"] = "\(instance)" }
        let text = "\(event.kind.rawValue)\(event.instance.map { " instance \($0)" } ?? ""): \(event.cause)"
        switch event.kind {
        case .crash, .hang, .deployRefused, .memory, .slow: logger.warning("\(text)", metadata: metadata)
        default: logger.notice("\(text)", metadata: metadata)
        }
    }

    /// Routes new requests to exactly `ids`, with the route table of the newest of them; the ready standby goes
    /// along as a spare for requests whose instance just died.
    private func publish(_ ids: [Int], run: inout RunState) {
        let instances = ids.compactMap { run.tracked[$0]?.upstream }
        let spareIDs = Self.readyStandbys(run.machine)
        let spares = spareIDs.compactMap { run.tracked[$0]?.upstream }
        run.published = (ids, spareIDs)
        notifier?.published(instances: instances.count)
        guard let newest = ids.last.flatMap({ run.tracked[$0]?.instance }) else {
            run.lastPublication = routing.publish(instances: instances, spares: spares)
            return
        }
        if newest.routeTable != run.publishedTable || newest.errorPages != run.publishedPages {
            do {
                let matcher = try RouteMatcher(table: newest.routeTable)
                // The app's pages are built here, once per publication: the refusal path only picks one.
                run.lastPublication = routing.publish(
                    matcher: matcher,
                    errorPages: newest.errorPages?.prebuilt(),
                    instances: instances,
                    spares: spares
                )
                run.publishedTable = newest.routeTable
                run.publishedPages = newest.errorPages
                return
            } catch {
                // A table Werkzeug accepted but feisty cannot compile: keep the previous gate rather than guess.
                logger.error("cannot compile the route table of instance \(newest.generation): \(error)")
            }
        }
        run.lastPublication = routing.publish(instances: instances, spares: spares)
    }

    private static func readyStandbys(_ machine: SupervisorStateMachine) -> [Int] {
        machine.slots.values.filter { $0.role == .standby && $0.phase == .ready }.map(\.id).sorted()
    }

    private func launch(
        id: Int,
        after delay: Duration,
        stop: StopSignal,
        scratch: String,
        group: inout ThrowingDiscardingTaskGroup<any Error>
    ) {
        let bind: AppAddress
        do {
            bind = try internalAddress(generation: id, scratch: scratch)
        } catch {
            logger.error("\(error.message)")
            let now = ContinuousClock.now
            input.yield(
                .exited(
                    id,
                    .init(
                        startedAt: now,
                        exitedAt: now,
                        status: "not started",
                        becameReady: false,
                        stopRequested: false
                    )
                )
            )
            return
        }
        let reportPath = "\(scratch)/instance-\(id).json"
        let runner = AppInstanceRunner(
            configuration: configuration,
            generation: id,
            bind: bind,
            reportPath: reportPath,
            logger: logger,
            output: output,
            stop: stop,
            onSpawn: { [self] pid in _ = processGroups.withLock { $0.insert(pid) } },
            onReady: { [input] instance in input.yield(.ready(id, instance)) }
        )
        group.addTask { [input] in
            let startedAt = ContinuousClock.now
            if delay > .zero {
                await withTaskGroup(of: Void.self) { wait in
                    wait.addTask { try? await Task.sleep(for: delay) }
                    wait.addTask { await stop.wait() }
                    await wait.next()
                    wait.cancelAll()
                }
            }
            let exit: SupervisorStateMachine.InstanceExit
            if stop.isStopped {
                exit = .init(
                    startedAt: startedAt,
                    exitedAt: .now,
                    status: "not started",
                    becameReady: false,
                    stopRequested: true
                )
            } else {
                do {
                    exit = try await runner.run()
                } catch {
                    // The interpreter cannot be spawned at all: the error says so (`--python`), as is.
                    exit = .init(
                        startedAt: startedAt,
                        exitedAt: .now,
                        status: "not started",
                        becameReady: false,
                        stopRequested: false,
                        readinessFailure: error as? SupervisorError ?? SupervisorError(.spawnFailed, "\(error)")
                    )
                }
            }
            // The instance is gone: its report was read when it became ready, its socket serves nobody.
            try? FileManager.default.removeItem(atPath: reportPath)
            if case .unixSocket(let path) = bind { try? FileManager.default.removeItem(atPath: path) }
            input.yield(.exited(id, exit))
        }
    }

    /// The path probes ask for: `--health-path`, else a declared parameterless GET route.
    private func probePath(_ table: RouteTable?) -> String {
        configuration.healthPath ?? table?.probePath ?? "/"
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
