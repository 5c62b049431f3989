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

    /// Counts one event.
    mutating func add(_ event: LifecycleEvent) {
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
