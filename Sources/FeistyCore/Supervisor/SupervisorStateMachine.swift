/// The supervisor's decisions over the app's instances, as a value: which instances to start, which ready ones the
/// proxy routes to, when an instance is swapped (crash, hang, memory, recycling, slowness, deploy) and in which
/// order, and when feisty gives up (only when the app never served at all). Every event returns the actions the
/// supervisor performs; tested without processes.
///
/// Every replacement is a swap: the new instance starts, becomes ready, is published, and only then is the old one
/// drained (new requests stop going to it, its requests in flight finish within the grace period) and stopped.
/// With `noOverlap` the old one is drained and stopped first, and requests wait in the proxy's queue meanwhile.
struct SupervisorStateMachine: Sendable {
    /// How the pool is shaped.
    struct Configuration: Sendable, Hashable {
        /// Instances serving requests (`--workers`).
        var workers = 1
        /// One more instance booted and idle, switched in when a serving one fails (`--standby`).
        var standby = false
        /// Stop an instance before starting its replacement (`--no-overlap`).
        var noOverlap = false
    }

    /// How one instance ended.
    struct InstanceExit: Sendable, Hashable {
        /// When it was spawned.
        var startedAt: ContinuousClock.Instant
        /// When it exited.
        var exitedAt: ContinuousClock.Instant
        /// Its exit status, human-readable (`exit code 1`, `signal 9 (SIGKILL)`).
        var status: String
        /// Whether it became ready (reported routes and answered HTTP).
        var becameReady: Bool
        /// Whether feisty asked it to stop.
        var stopRequested: Bool
        /// A readiness failure (timeout, malformed report) that made feisty stop it.
        var readinessFailure: SupervisorError?
        /// The app's own last error line (stderr, or the launcher's JSON error), if any.
        var errorLine: String?
    }

    /// Why a ready instance is replaced.
    enum ReplacementCause: Sendable, Hashable {
        case hung(String)
        case memory(String)
        case recycle(String)
        case slow(String)
        /// Someone asked for it (the admin API's recycle).
        case requested(String)

        var kind: LifecycleEvent.Kind {
            switch self {
            case .hung: .hang
            case .memory: .memory
            case .recycle: .recycle
            case .slow: .slow
            case .requested: .recycle
            }
        }

        var evidence: String {
            switch self {
            case .hung(let text), .memory(let text), .recycle(let text), .slow(let text), .requested(let text): text
            }
        }
    }

    /// What the supervisor does.
    enum Action: Sendable, Hashable {
        /// Start instance `id` after `delay` (zero: now).
        case launch(id: Int, after: Duration)
        /// Route new requests to exactly these ready instances (in start order).
        case publish([Int])
        /// `id` no longer gets new requests: wait for its requests in flight (bounded by the grace period), then
        /// report ``SupervisorStateMachine/drained(_:)``.
        case drain(Int)
        /// Stop `id` (SIGTERM to its process group, SIGKILL after the grace period).
        case stop(Int)
        /// SIGKILL `id`'s process group now (a hung instance answers no SIGTERM).
        case kill(Int)
        /// Record and log a lifecycle event.
        case record(LifecycleEvent)
        /// Throw: feisty exits non-zero with this message.
        case fail(SupervisorError)
        /// Every instance is gone after a stop request: return.
        case finish
    }

    enum Role: Sendable, Hashable {
        case serving
        case standby
    }

    enum Phase: Sendable, Hashable {
        case starting
        case ready
        /// Unpublished, finishing its requests in flight.
        case draining
        /// Asked to stop (or killed), waiting for its exit.
        case stopping
    }

    struct Slot: Sendable, Hashable {
        var id: Int
        var role: Role
        var phase: Phase = .starting
        /// The ready instance this one replaces once ready.
        var replaces: Int?
        /// Started by a deploy.
        var deploy = false
        /// Start a replacement when this one has exited (`noOverlap`).
        var replaceOnExit = false
        /// The replacement of this instance is a deploy step.
        var replaceOnExitIsDeploy = false
    }

    let configuration: Configuration
    private var restartPolicy: RestartPolicy
    private(set) var slots: [Int: Slot] = [:]
    private var nextID = 1
    private var everReady = false
    private var stopping = false
    /// Ready instances a deploy has still to replace, in order.
    private var deployQueue: [Int]?

    init(configuration: Configuration, restartPolicy: RestartPolicy) {
        self.configuration = configuration
        self.restartPolicy = restartPolicy
    }

    /// The ready serving instances, in start order (what the proxy routes to).
    var serving: [Int] {
        slots.values.filter { $0.role == .serving && $0.phase == .ready }.map(\.id).sorted()
    }

    /// Whether a deploy is in progress.
    var isDeploying: Bool { deployQueue != nil }

    // MARK: events

    /// feisty starts: boot every worker (and the standby).
    mutating func start() -> [Action] {
        var actions: [Action] = []
        for _ in 0..<max(1, configuration.workers) { actions += launch(role: .serving) }
        if configuration.standby { actions += launch(role: .standby) }
        return actions
    }

    /// Instance `id` reported its routes and answered a probe.
    mutating func ready(_ id: Int) -> [Action] {
        guard var slot = slots[id], slot.phase == .starting else { return [] }
        everReady = true
        slot.phase = .ready
        slots[id] = slot
        var actions: [Action] = [.record(LifecycleEvent(.ready, instance: id, cause: "ready"))]
        if stopping {
            slots[id]?.phase = .stopping
            return actions + [.stop(id)]
        }
        if let old = slot.replaces, var oldSlot = slots[old], oldSlot.phase == .ready {
            // The swap: the new instance takes the old one's role as it is now (a standby may have been promoted
            // while its replacement booted).
            oldSlot.phase = .draining
            slots[old] = oldSlot
            slots[id]?.replaces = nil
            slots[id]?.role = oldSlot.role
            if oldSlot.role == .serving { actions.append(.publish(serving)) }
            actions.append(.record(LifecycleEvent(.swap, instance: id, cause: "instance \(id) replaces \(old)")))
            actions.append(.drain(old))
        } else {
            // Nothing to replace (any more): the instance fills a gap, becomes the standby, or is surplus.
            slots[id]?.replaces = nil
            actions += place(id)
        }
        if slot.deploy || deployQueue?.first == id { actions += continueDeploy() }
        // A standby promoted while its own replacement booted leaves the pool without one.
        if missing(.standby) { actions += launch(role: .standby) }
        return actions
    }

    /// Instance `id` exited.
    mutating func exited(_ id: Int, _ exit: InstanceExit) -> [Action] {
        var actions = instanceExited(id, exit)
        // A deploy waiting for this instance to become ready goes on without it (its successor loads the new code).
        if deployQueue?.first == id { actions += continueDeploy() }
        return actions
    }

    private mutating func instanceExited(_ id: Int, _ exit: InstanceExit) -> [Action] {
        guard let slot = slots.removeValue(forKey: id) else { return [] }
        var actions: [Action] = []
        if stopping {
            actions.append(.record(LifecycleEvent(.stop, instance: id, cause: exit.status)))
            return slots.isEmpty ? actions + [.finish] : actions
        }
        let detail = exit.errorLine.map { ": \($0)" } ?? ""
        switch slot.phase {
        case .draining, .stopping:
            actions.append(.record(LifecycleEvent(.stop, instance: id, cause: exit.status)))
            if slot.replaceOnExit { actions += launch(role: slot.role, deploy: slot.replaceOnExitIsDeploy) }
            return actions
        case .starting:
            let why = exit.readinessFailure?.message ?? "the app exited while starting (\(exit.status))\(detail)"
            if !everReady {
                // Never served once: a syntax error or a taken port will not fix itself, fail fast.
                if let failure = exit.readinessFailure { return [.fail(failure)] }
                return [.fail(SupervisorError(.appFailedToStart, "the app failed to start (\(exit.status))\(detail)"))]
            }
            if slot.deploy {
                // The new version is broken: the instances of the last good one keep serving.
                deployQueue = nil
                actions.append(
                    .record(LifecycleEvent(.deployRefused, instance: id, cause: "deploy refused: \(why)"))
                )
                if slot.replaces == nil, missing(slot.role) {
                    // noOverlap stopped an old instance first: the pool must not shrink (the old code is gone
                    // from disk, so the retry may fail again, with backoff).
                    actions += restart(role: slot.role, after: exit, reason: why)
                }
                return actions
            }
            actions.append(.record(LifecycleEvent(.crash, instance: id, cause: why)))
            let next = restart(role: slot.role, after: exit, reason: why)
            if let replaces = slot.replaces, case .launch(let newID, _)? = next.first {
                slots[newID]?.replaces = replaces  // the swap it was part of goes on with its successor
            }
            return actions + next
        case .ready:
            actions.append(.record(LifecycleEvent(.crash, instance: id, cause: "\(exit.status)\(detail)")))
            if slot.role == .standby { return actions + restart(role: .standby, after: exit, reason: exit.status) }
            // A replacement for an instance waiting on this one takes its place.
            for (otherID, other) in slots where other.replaces == id { slots[otherID]?.replaces = nil }
            if let standby = readyStandby {
                slots[standby]?.role = .serving
                actions.append(.publish(serving))
                actions.append(
                    .record(LifecycleEvent(.swap, instance: standby, cause: "standby \(standby) replaces \(id)"))
                )
                return missing(.standby) ? actions + launch(role: .standby) : actions
            }
            actions.append(.publish(serving))
            if slots.values.contains(where: { $0.role == .serving && $0.phase == .starting && $0.replaces == nil }),
                servingCount + startingCount(.serving) >= configuration.workers
            {
                return actions
            }
            return actions + restart(role: .serving, after: exit, reason: exit.status)
        }
    }

    /// A ready instance is to be replaced (hung, too much memory, recycling, slow); `detectedAfter` is how long the
    /// fault had lasted when it was seen (for the detection metric).
    mutating func replace(_ id: Int, cause: ReplacementCause, detectedAfter: Duration? = nil) -> [Action] {
        guard let slot = slots[id], slot.phase == .ready, !stopping else { return [] }
        let pending = slots.values.first { $0.replaces == id }?.id
        let event = LifecycleEvent(cause.kind, instance: id, cause: cause.evidence, detectedAfter: detectedAfter)
        if case .hung = cause {
            // Its requests are stuck: nothing to drain. Unpublished, then killed; its requests get 504 as its
            // connections close.
            var actions: [Action] = [.record(event)]
            slots[id]?.phase = .stopping
            var successor: [Action] = []
            if let pending {
                // Its replacement is booting already: it fills the gap when ready.
                slots[pending]?.replaces = nil
            } else if slot.role == .serving, let standby = readyStandby {
                slots[standby]?.role = .serving
                successor.append(
                    .record(LifecycleEvent(.swap, instance: standby, cause: "standby \(standby) replaces \(id)"))
                )
                successor += launch(role: .standby)
            } else {
                successor = launch(role: slot.role)
            }
            if slot.role == .serving { actions.append(.publish(serving)) }
            return actions + [.kill(id)] + successor
        }
        guard pending == nil else { return [] }
        var actions: [Action] = [.record(event)]
        if slot.role == .serving, let standby = readyStandby {
            slots[standby]?.role = .serving
            slots[id]?.phase = .draining
            actions.append(.publish(serving))
            actions.append(
                .record(LifecycleEvent(.swap, instance: standby, cause: "standby \(standby) replaces \(id)"))
            )
            actions.append(.drain(id))
            return actions + launch(role: .standby)
        }
        if configuration.noOverlap {
            slots[id]?.phase = .draining
            slots[id]?.replaceOnExit = true
            if slot.role == .serving { actions.append(.publish(serving)) }
            return actions + [.drain(id)]
        }
        return actions + launch(role: slot.role, replacing: id)
    }

    /// A deploy was asked for (SIGHUP, `feisty reload`): every instance is swapped, one at a time, for one running
    /// the code now on disk.
    mutating func deploy() -> [Action] {
        guard !stopping else { return [] }
        guard deployQueue == nil else {
            return [.record(LifecycleEvent(.deploy, instance: nil, cause: "a deploy is already in progress"))]
        }
        // Instances still starting may have imported the old code too: they are swapped once ready.
        let old = slots.values.filter { $0.phase == .ready || ($0.phase == .starting && !$0.deploy) }
            .sorted { ($0.role == .serving ? 0 : 1, $0.id) < ($1.role == .serving ? 0 : 1, $1.id) }.map(\.id)
        deployQueue = old
        let actions: [Action] = [
            .record(
                LifecycleEvent(.deploy, instance: nil, cause: "deploying the code on disk to \(old.count) instance(s)")
            )
        ]
        return actions + continueDeploy()
    }

    /// Drained instance `id` finished its requests (or the grace period ended): stop it.
    mutating func drained(_ id: Int) -> [Action] {
        guard slots[id]?.phase == .draining else { return [] }
        slots[id]?.phase = .stopping
        return [.stop(id)]
    }

    /// feisty shuts down: stop everything.
    mutating func stop() -> [Action] {
        stopping = true
        deployQueue = nil
        if slots.isEmpty { return [.publish([]), .finish] }
        var actions: [Action] = [.publish([])]
        for id in slots.keys.sorted() where slots[id]?.phase != .stopping {
            slots[id]?.phase = .stopping
            actions.append(.stop(id))
        }
        return actions
    }

    // MARK: helpers

    private var servingCount: Int { serving.count }

    /// Puts a ready instance that replaces nothing where the pool needs it: serving while fewer than `workers`
    /// serve, else the standby while there is none, else it is stopped (its place was filled meanwhile).
    private mutating func place(_ id: Int) -> [Action] {
        guard let slot = slots[id] else { return [] }
        let servingOthers = slots.values.filter { $0.id != id && $0.role == .serving && $0.phase == .ready }.count
        if servingOthers < configuration.workers {
            slots[id]?.role = .serving
            var actions: [Action] = [.publish(serving)]
            if slot.role == .standby {
                // The standby took a serving place: a serving instance still booting becomes the new standby.
                if let booting = slots.values.filter({
                    $0.role == .serving && $0.phase == .starting && $0.replaces == nil && !$0.deploy
                }).map(\.id).min() {
                    slots[booting]?.role = .standby
                } else if configuration.standby {
                    actions += launch(role: .standby)
                }
            }
            return actions
        }
        let readyStandby = slots.values.contains { $0.id != id && $0.role == .standby && $0.phase == .ready }
        if configuration.standby && !readyStandby {
            // A ready instance beats one still booting: it becomes the standby, the booting one is stopped.
            slots[id]?.role = .standby
            var actions: [Action] = []
            for booting in slots.values
            where booting.id != id && booting.role == .standby && booting.phase == .starting
                && booting.replaces == nil && !booting.deploy
            {
                slots[booting.id]?.phase = .stopping
                actions += [
                    .record(LifecycleEvent(.stop, instance: booting.id, cause: "not needed any more")),
                    .stop(booting.id),
                ]
            }
            return actions
        }
        slots[id]?.phase = .stopping
        return [.record(LifecycleEvent(.stop, instance: id, cause: "not needed any more")), .stop(id)]
    }

    /// Whether a slot of `role` is missing (none ready or starting to fill it, nor one stopping to be replaced).
    private func missing(_ role: Role) -> Bool {
        let live = slots.values.filter {
            $0.role == role && ($0.phase == .ready || $0.phase == .starting || $0.replaceOnExit)
        }.count
        return live < (role == .serving ? configuration.workers : (configuration.standby ? 1 : 0))
    }

    private func startingCount(_ role: Role) -> Int {
        slots.values.filter { $0.role == role && $0.phase == .starting }.count
    }

    private var readyStandby: Int? {
        slots.values.filter { $0.role == .standby && $0.phase == .ready }.map(\.id).min()
    }

    private mutating func launch(
        role: Role,
        replacing: Int? = nil,
        deploy: Bool = false,
        after delay: Duration = .zero
    ) -> [Action] {
        let id = nextID
        nextID += 1
        slots[id] = Slot(id: id, role: role, replaces: replacing, deploy: deploy)
        return [
            .launch(id: id, after: delay),
            .record(LifecycleEvent(.start, instance: id, cause: Self.why(role, replacing, deploy))),
        ]
    }

    private static func why(_ role: Role, _ replacing: Int?, _ deploy: Bool) -> String {
        let what = role == .standby ? "standby" : "serving"
        if let replacing { return "\(what), \(deploy ? "deploy: " : "")replacing instance \(replacing)" }
        return deploy ? "\(what), deploy" : what
    }

    /// A crashed instance's successor, after the crash-loop backoff (never a silent give-up).
    private mutating func restart(role: Role, after exit: InstanceExit, reason: String) -> [Action] {
        let delay = restartPolicy.instanceCrashed(startedAt: exit.startedAt, exitedAt: exit.exitedAt)
        var actions = launch(role: role, after: delay)
        if delay > .zero {
            actions.append(
                .record(
                    LifecycleEvent(.backoff, instance: nil, cause: "\(reason); next start in \(delay.formattedSeconds)")
                )
            )
        }
        return actions
    }

    /// Starts the next step of a deploy, or ends it.
    private mutating func continueDeploy() -> [Action] {
        guard var queue = deployQueue else { return [] }
        // Gone, draining, or being replaced already (that replacement starts from the code on disk too): skipped.
        while let old = queue.first,
            !(slots[old]?.phase == .ready || slots[old]?.phase == .starting)
                || slots.values.contains(where: { $0.replaces == old })
        {
            queue.removeFirst()
        }
        if let old = queue.first, slots[old]?.phase == .starting {
            deployQueue = queue
            return []  // its turn comes when it is ready (see `ready`)
        }
        guard let old = queue.first, let oldSlot = slots[old] else {
            deployQueue = nil
            return [.record(LifecycleEvent(.deploy, instance: nil, cause: "deploy complete"))]
        }
        queue.removeFirst()
        deployQueue = queue
        if configuration.noOverlap {
            slots[old]?.phase = .draining
            slots[old]?.replaceOnExit = true
            slots[old]?.replaceOnExitIsDeploy = true
            return [.publish(serving), .drain(old)]
        }
        return launch(role: oldSlot.role, replacing: old, deploy: true)
    }
}

extension Duration {
    /// `0.1 s`, `30 s`: for log lines and error messages.
    var formattedSeconds: String {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        let text = String(Double(milliseconds) / 1000)
        return "\(text) s"
    }
}
