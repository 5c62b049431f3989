import Foundation

/// The supervisor's instances as the admin listener shows them: a value published by `AppSupervisor` whenever
/// it handled an input, read without touching the supervisor's loop.
public struct PoolStatus: Sendable {
    /// One instance.
    public struct Instance: Sendable {
        public var id: Int
        /// Its process (and process group) id, once spawned and reported.
        public var processID: Int32?
        /// starting, ready, draining or stopping.
        public var state: String
        /// Its internal address, once ready.
        public var address: String?
        /// When it was launched.
        public var launchedAt: Date
        /// Its counters (requests served), once ready.
        public var upstream: UpstreamInstance?

        /// Requests it answered (`nil` before it was ready).
        public var requests: Int? { upstream?.served }
    }

    /// The instances, by id.
    public var instances: [Instance] = []

    /// Creates an empty pool.
    public init(instances: [Instance] = []) { self.instances = instances }

    /// Whether an instance is ready to serve.
    public var hasReadyInstance: Bool { instances.contains { $0.state == "ready" } }

    /// Whether `id` is a ready instance (the one state a recycle applies to).
    public func isReady(_ id: Int) -> Bool { instances.contains { $0.id == id && $0.state == "ready" } }
}

extension SupervisorStateMachine.Phase {
    /// The name `/status` uses.
    var name: String {
        switch self {
        case .starting: "starting"
        case .ready: "ready"
        case .draining: "draining"
        case .stopping: "stopping"
        }
    }
}
