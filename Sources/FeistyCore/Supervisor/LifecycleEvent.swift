import Foundation
import Synchronization

/// Something that happened to an app instance, with its cause and evidence: logged as one line and kept (the most
/// recent ``LifecycleEventLog/capacity``) for the admin API of a later issue.
public struct LifecycleEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case start
        case ready
        case crash
        case hang
        case slow
        case memory
        case recycle
        case deploy
        case deployRefused = "deploy_refused"
        case swap
        case stop
        /// A crash loop: the next start waits.
        case backoff
    }

    /// What happened.
    public var kind: Kind
    /// The instance concerned (`nil`: the whole app, e.g. a deploy).
    public var instance: Int?
    /// Why, with the evidence (exit status, silence, memory, counts).
    public var cause: String
    /// When (wall clock, for people).
    public var at: Date
    /// How long the fault had lasted when feisty acted on it: a hang's silence, the time above the memory limit
    /// (`nil`: seen as it happened, as a crash's exit is, or not a fault).
    public var detectedAfter: Duration?

    /// Creates an event.
    public init(_ kind: Kind, instance: Int?, cause: String, at: Date = Date(), detectedAfter: Duration? = nil) {
        self.kind = kind
        self.instance = instance
        self.cause = cause
        self.at = at
        self.detectedAfter = detectedAfter
    }

    /// Equal when kind, instance and cause are (times and durations are not compared, so decisions are testable).
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.instance == rhs.instance && lhs.cause == rhs.cause
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(instance)
        hasher.combine(cause)
    }
}

/// The most recent lifecycle events, shared by the supervisor (writer) and whoever reports them.
public final class LifecycleEventLog: Sendable {
    /// How many events are kept.
    public static let capacity = 512
    private let events = Mutex<[LifecycleEvent]>([])
    /// Told of every event as it is appended (metrics count them all, beyond the log's capacity).
    private let onAppend: (@Sendable (LifecycleEvent) -> Void)?

    /// Creates an empty log.
    /// - Parameter onAppend: Called with every event appended, in order (on the appending task; keep it short).
    public init(onAppend: (@Sendable (LifecycleEvent) -> Void)? = nil) {
        self.onAppend = onAppend
    }

    /// Appends an event (the oldest goes when full).
    public func append(_ event: LifecycleEvent) {
        onAppend?(event)
        events.withLock { events in
            if events.count == Self.capacity { events.removeFirst() }
            events.append(event)
        }
    }

    /// The events kept, oldest first.
    public var recent: [LifecycleEvent] { events.withLock { $0 } }
}
