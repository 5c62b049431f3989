import Foundation

/// The supervisor's lifecycle events counted for metrics: every kind, restarts by cause, swaps by the cause that
/// led to them, and each instance's state as the events tell it.
struct LifecycleTally: Sendable, Equatable {
    /// The kinds that end in the instance being replaced.
    static let restartCauses: Set<LifecycleEvent.Kind> = [.crash, .hang, .memory, .recycle]

    /// Events by kind.
    var events: [LifecycleEvent.Kind: Int] = [:]
    /// Replacements by cause (crash, hang, memory, recycle).
    var restarts: [LifecycleEvent.Kind: Int] = [:]
    /// Swaps by what caused them: the restart cause or deploy that came last before the swap.
    var swaps: [String: Int] = [:]
    /// Each living instance's state (starting, ready, draining, stopping), by id.
    var instances: [Int: String] = [:]
    /// What the next swap is attributed to.
    private var lastCause = "deploy"
    /// Faults not yet recovered from: their kind and when they were acted on.
    private var unrecovered: [Fault] = []

    private struct Fault: Sendable, Equatable {
        var kind: LifecycleEvent.Kind
        var at: Date
    }

    /// The faults whose detection and recovery are timed.
    static let faults: Set<LifecycleEvent.Kind> = [.crash, .hang, .memory]

    /// A duration an event completes: how long a fault went unseen, or how long the app took to recover from it.
    struct Observation: Equatable {
        enum Measure: Equatable {
            /// From the fault's start to feisty acting on it (the event's `detectedAfter`).
            case detection
            /// From feisty acting on the fault to a ready instance serving in its place (the next swap or ready).
            case recovery
        }

        var measure: Measure
        var cause: LifecycleEvent.Kind
        var duration: Duration
    }

    /// Counts one event.
    /// - Returns: The detection and recovery durations it completes.
    @discardableResult
    mutating func add(_ event: LifecycleEvent) -> [Observation] {
        var observed: [Observation] = []
        if Self.faults.contains(event.kind) {
            if let detectedAfter = event.detectedAfter {
                observed.append(Observation(measure: .detection, cause: event.kind, duration: detectedAfter))
            }
            unrecovered.append(Fault(kind: event.kind, at: event.at))
        } else if event.kind == .swap || event.kind == .ready {
            for fault in unrecovered {
                let seconds = max(0, event.at.timeIntervalSince(fault.at))
                observed.append(Observation(measure: .recovery, cause: fault.kind, duration: .seconds(seconds)))
            }
            unrecovered.removeAll()
        }
        count(event)
        return observed
    }

    private mutating func count(_ event: LifecycleEvent) {
        events[event.kind, default: 0] += 1
        if Self.restartCauses.contains(event.kind) {
            restarts[event.kind, default: 0] += 1
            lastCause = event.kind.rawValue
        }
        switch event.kind {
        case .deploy: lastCause = "deploy"
        case .swap: swaps[lastCause, default: 0] += 1
        default: break
        }
        guard let id = event.instance else { return }
        switch event.kind {
        case .start: instances[id] = "starting"
        case .ready: instances[id] = "ready"
        case .hang: instances[id] = "stopping"
        case .memory, .recycle: instances[id] = "draining"
        case .stop, .crash: instances[id] = nil
        default: break
        }
    }

    /// Instances per state, every state present (0 when none).
    var instancesByState: [String: Int] {
        var counts = ["starting": 0, "ready": 0, "draining": 0, "stopping": 0]
        for state in instances.values { counts[state, default: 0] += 1 }
        return counts
    }
}
