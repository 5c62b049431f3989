import NIOCore
import Synchronization

/// What the proxy needs to route one request, frozen: the matcher for the app's current route table and the
/// instances ready to serve. Handlers read their event loop's copy once per request, without a lock.
public final class RoutingSnapshot: Sendable {
    /// The route gate; `nil` until the app's route table is known (requests wait for it).
    public let matcher: RouteMatcher?
    /// The ready instances (empty while the app is starting or restarting: requests wait in the queue).
    public let pool: InstancePool
    /// Increases with every publication (an event loop applies only newer snapshots).
    public let publication: UInt64
    /// The app's own 404 and 405 pages, built for the refusal path (`nil`: feisty's own text).
    public let errorPages: AppErrorPages.Prebuilt?

    /// Creates a snapshot.
    public init(
        matcher: RouteMatcher?,
        pool: InstancePool,
        publication: UInt64,
        errorPages: AppErrorPages.Prebuilt? = nil
    ) {
        self.matcher = matcher
        self.pool = pool
        self.publication = publication
        self.errorPages = errorPages
    }
}

/// The publication point between the supervisor (which learns about instances, route tables and failures) and the
/// proxy's event loops. A publication is copied to every event loop's ``LoopRouting``, so a request reads a plain
/// field of its own loop: no lock and no atomic per request. Writes are rare (an instance starts or stops).
public final class RoutingPublisher: Sendable {
    private struct State {
        var snapshot: RoutingSnapshot
        var loops: [LoopRouting] = []
    }

    private let state: Mutex<State>

    /// Starts with `matcher` (`nil`: no route table yet), `instances` (empty when the app is not up yet) and the
    /// app's error pages (`nil`: feisty's own text).
    public init(matcher: RouteMatcher?, instances: [UpstreamInstance] = [], errorPages: AppErrorPages.Prebuilt? = nil) {
        self.state = Mutex(
            State(
                snapshot: RoutingSnapshot(
                    matcher: matcher,
                    pool: InstancePool(instances),
                    publication: 1,
                    errorPages: errorPages
                )
            )
        )
    }

    /// The snapshot in force (for readers off the hot path).
    public var current: RoutingSnapshot { state.withLock { $0.snapshot } }

    /// Publishes a new set of ready instances, keeping the matcher and the error pages.
    /// - Returns: A future that completes once every event loop applied it (after that no new request is dispatched
    ///   to an instance left out).
    @discardableResult
    public func publish(instances: [UpstreamInstance], spares: [UpstreamInstance] = []) -> EventLoopFuture<Void>? {
        publish {
            RoutingSnapshot(
                matcher: $0.matcher,
                pool: InstancePool(instances, spares: spares),
                publication: $0.publication + 1,
                errorPages: $0.errorPages
            )
        }
    }

    /// Publishes a new route table's matcher, the app's error pages (`nil`: none known) and a new set of ready
    /// instances in one step.
    @discardableResult
    public func publish(
        matcher: RouteMatcher,
        errorPages: AppErrorPages.Prebuilt? = nil,
        instances: [UpstreamInstance],
        spares: [UpstreamInstance] = []
    ) -> EventLoopFuture<Void>? {
        publish {
            RoutingSnapshot(
                matcher: matcher,
                pool: InstancePool(instances, spares: spares),
                publication: $0.publication + 1,
                errorPages: errorPages
            )
        }
    }

    private func publish(_ next: (RoutingSnapshot) -> RoutingSnapshot) -> EventLoopFuture<Void>? {
        let (snapshot, loops) = state.withLock { state in
            state.snapshot = next(state.snapshot)
            return (state.snapshot, state.loops)
        }
        guard let first = loops.first else { return nil }
        let futures = loops.map { loop in loop.eventLoop.submit { loop.apply(snapshot) } }
        return EventLoopFuture.andAllSucceed(futures, on: first.eventLoop)
    }

    /// Registers an event loop's copy (the proxy does this once per loop when it is created).
    func attach(_ loop: LoopRouting) {
        let snapshot = state.withLock { state in
            state.loops.append(loop)
            return state.snapshot
        }
        loop.eventLoop.execute { loop.apply(snapshot) }
    }
}

/// One event loop's view of the routing publication and its exchange observers. Used only on its event loop.
final class LoopRouting: @unchecked Sendable {
    /// The event loop this object belongs to.
    let eventLoop: any EventLoop
    /// The snapshot handlers on this loop read.
    private(set) var snapshot: RoutingSnapshot
    /// The observers every finished exchange on this loop is handed to.
    let observers: [any ExchangeObserver]
    /// Connections whose request waits for a ready instance, woken by the next publication.
    private var waiting: [ObjectIdentifier: DownstreamHandler] = [:]
    /// Spreads ties between equally loaded instances.
    private var rotation: UInt = 0

    init(eventLoop: any EventLoop, snapshot: RoutingSnapshot, observers: [any ExchangeObserver]) {
        self.eventLoop = eventLoop
        self.snapshot = snapshot
        self.observers = observers
    }

    /// The next tie-breaking counter value.
    func nextRotation() -> UInt {
        rotation &+= 1
        return rotation
    }

    /// Takes a newer snapshot and wakes the connections waiting for an instance.
    func apply(_ next: RoutingSnapshot) {
        eventLoop.preconditionInEventLoop()
        guard next.publication > snapshot.publication else { return }
        snapshot = next
        guard !waiting.isEmpty, !next.pool.isEmpty else { return }
        let woken = waiting.values
        waiting.removeAll()
        for handler in woken { handler.instancesPublished() }
    }

    /// How many connections wait for an instance on this loop.
    var waitingCount: Int { waiting.count }

    func wait(_ handler: DownstreamHandler) { waiting[ObjectIdentifier(handler)] = handler }

    func stopWaiting(_ handler: DownstreamHandler) { waiting.removeValue(forKey: ObjectIdentifier(handler)) }

    /// Hands a finished exchange to every observer.
    func exchangeEnded(_ record: ExchangeRecord) {
        for observer in observers { observer.exchangeEnded(record) }
    }

    /// Tells every observer that an exchange started (`+1`) or stopped being in flight (`-1`).
    func inFlightChanged(by delta: Int) {
        for observer in observers { observer.inFlightChanged(by: delta) }
    }
}
