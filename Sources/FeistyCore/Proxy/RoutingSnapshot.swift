import NIOCore
import Synchronization

/// What the proxy needs to route one request, frozen: the matcher for the app's current route table and where
/// the app listens. Handlers read the current snapshot once per request, without awaiting.
public final class RoutingSnapshot: Sendable {
    /// The route gate.
    public let matcher: RouteMatcher
    /// The app's internal address; `nil` while the app is starting or restarting (feisty answers 503).
    public let upstream: SocketAddress?
    /// Increases with every publication; an app connection opened under an older generation is not reused.
    public let generation: UInt64

    /// Creates a snapshot.
    public init(matcher: RouteMatcher, upstream: SocketAddress?, generation: UInt64) {
        self.matcher = matcher
        self.upstream = upstream
        self.generation = generation
    }
}

/// The publication point between the supervisor (which learns about restarts, new route tables and ports) and the
/// proxy's event loops. Writes are rare; each request reads one snapshot under an uncontended lock.
public final class RoutingPublisher: Sendable {
    private let box: Mutex<RoutingSnapshot>

    /// Starts with `matcher` and `upstream` (pass `nil` when the app is not up yet).
    public init(matcher: RouteMatcher, upstream: SocketAddress?) {
        self.box = Mutex(RoutingSnapshot(matcher: matcher, upstream: upstream, generation: 1))
    }

    /// The snapshot in force.
    public var current: RoutingSnapshot { box.withLock { $0 } }

    /// Publishes a new upstream address (`nil`: the app is down; requests get 503 until the next publication).
    public func publish(upstream: SocketAddress?) {
        box.withLock { old in
            old = RoutingSnapshot(matcher: old.matcher, upstream: upstream, generation: old.generation + 1)
        }
    }

    /// Publishes a new route table's matcher and, optionally, a new upstream address in one step.
    public func publish(matcher: RouteMatcher, upstream: SocketAddress?) {
        box.withLock { old in
            old = RoutingSnapshot(matcher: matcher, upstream: upstream, generation: old.generation + 1)
        }
    }
}
