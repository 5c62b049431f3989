import NIOCore
import Synchronization

/// One app instance as the proxy sees it: where it listens and the counters the supervisor reads to judge it.
///
/// The counters are atomics because every event loop updates them and the supervisor samples them off the hot path;
/// they are the only state the proxy and the supervisor share per instance.
public final class UpstreamInstance: Sendable {
    /// Why an instance was taken out of service while requests were in flight on it.
    public enum Failure: UInt8, Sendable {
        case none = 0
        /// Its process exited.
        case crashed = 1
        /// It stopped answering (`--hang-timeout`, confirmed by a probe).
        case hung = 2
    }

    /// The instance number (1 for the first instance feisty launched; 0 for an `--upstream` server).
    public let id: Int
    /// Where it listens.
    public let address: SocketAddress
    private let inFlightCount = Atomic<Int>(0)
    private let servedCount = Atomic<Int>(0)
    private let lastProgressNanos: Atomic<UInt64>
    private let failureValue = Atomic<UInt8>(0)

    /// Creates an instance description; it counts as having shown progress now (it just answered a probe).
    public init(id: Int, address: SocketAddress) {
        self.id = id
        self.address = address
        self.lastProgressNanos = Atomic(NIODeadline.now().uptimeNanoseconds)
    }

    /// Requests dispatched to it and not yet finished.
    public var inFlight: Int { inFlightCount.load(ordering: .relaxed) }
    /// Exchanges it finished (for `--max-requests`).
    public var served: Int { servedCount.load(ordering: .relaxed) }
    /// The last time it sent a response byte, or a request was dispatched to it (uptime nanoseconds).
    public var lastProgress: NIODeadline { .uptimeNanoseconds(lastProgressNanos.load(ordering: .relaxed)) }
    /// Why it was taken out of service, if it was.
    public var failure: Failure { Failure(rawValue: failureValue.load(ordering: .relaxed)) ?? .none }

    /// A request was dispatched to it.
    func exchangeStarted(now: NIODeadline) {
        inFlightCount.add(1, ordering: .relaxed)
        markProgress(now: now)
    }

    /// A request dispatched to it finished (answered, refused or cut).
    func exchangeEnded(answered: Bool) {
        inFlightCount.subtract(1, ordering: .relaxed)
        if answered { servedCount.add(1, ordering: .relaxed) }
    }

    /// It sent part of a response.
    func markProgress(now: NIODeadline) {
        lastProgressNanos.store(now.uptimeNanoseconds, ordering: .relaxed)
    }

    /// The supervisor took it out of service; connections that close on it afterwards are explained by `failure`.
    public func markFailed(_ failure: Failure) {
        failureValue.store(failure.rawValue, ordering: .relaxed)
    }
}

/// The ready instances of one routing snapshot, and the choice among them: least outstanding requests, ties broken
/// by rotating the starting point so equal instances share the load.
public struct InstancePool: Sendable {
    /// The instances new requests may go to, in start order.
    public let instances: [UpstreamInstance]
    /// Booted idle instances (`--standby`): used only by a request that no serving instance may take (its instance
    /// just died), so a crash costs that request no wait for the supervisor to notice.
    public let spares: [UpstreamInstance]

    /// Creates a pool.
    public init(_ instances: [UpstreamInstance], spares: [UpstreamInstance] = []) {
        self.instances = instances
        self.spares = spares
    }

    /// Whether no instance is ready.
    public var isEmpty: Bool { instances.isEmpty }

    /// Whether `id` is still one of the ready instances (a kept app connection to it may be reused).
    public func contains(_ id: Int) -> Bool {
        for instance in instances where instance.id == id { return true }
        return false
    }

    /// The instance with the fewest requests in flight, other than `excluded` (an instance that just failed a
    /// request); `nil` when none is ready.
    /// - Parameter rotation: Any counter that changes between calls (spreads ties).
    public func pick(excluding excluded: Int? = nil, rotation: UInt = 0) -> UpstreamInstance? {
        if let serving = Self.leastLoaded(instances, excluding: excluded, rotation: rotation) { return serving }
        return excluded == nil ? nil : Self.leastLoaded(spares, excluding: excluded, rotation: rotation)
    }

    private static func leastLoaded(
        _ instances: [UpstreamInstance],
        excluding excluded: Int?,
        rotation: UInt
    ) -> UpstreamInstance? {
        let count = instances.count
        if count == 0 { return nil }
        if count == 1 { return instances[0].id == excluded ? nil : instances[0] }
        var best: UpstreamInstance?
        var bestLoad = Int.max
        for offset in 0..<count {
            let instance = instances[(Int(rotation % UInt(count)) + offset) % count]
            if instance.id == excluded { continue }
            let load = instance.inFlight
            if load < bestLoad {
                best = instance
                bestLoad = load
            }
        }
        return best
    }
}
