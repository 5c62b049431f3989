import Synchronization

/// One request asking `AppAdmission` for a slot in the app, and how to tell it the answer once it waits.
///
/// A ticket is used once: entered at most once, and then left (or cancelled) by its owner. Its state lives in the
/// ticket so `AppAdmission` can cancel in O(1) and can tell a late `cancel` what became of it. The state only changes
/// under the admission's lock; it is atomic so the ticket can be `Sendable`.
public final class AdmissionTicket: Sendable {
    /// What a waiting ticket is told through `wake`.
    public enum Wake: Sendable, Hashable {
        /// A slot is the ticket's now: forward the request to the app, then `leave`.
        case admitted
        /// The queue was full and a better class took its place: answer 503 with `Retry-After` (holds no slot).
        case shed
    }

    /// Where a ticket stands.
    enum State: UInt8 {
        /// Not entered yet.
        case fresh
        /// In a queue.
        case waiting
        /// Holds a slot (admitted at once, or handed one by `leave`).
        case admitted
        /// Gave its slot back (`leave`).
        case left
        /// Taken out of the queue by `cancel`.
        case cancelled
        /// Refused: the queue was full (`enter` returned `.full`), or a better class took its place.
        case shed
    }

    /// The class it waits in.
    public let priority: PriorityClass
    /// Called once, outside the admission's lock, when a waiting ticket is settled; it should hop to the request's
    /// event loop and do nothing else. It can run after `cancel` returned (the race `cancel` describes): the owner
    /// must then ignore it.
    public let wake: @Sendable (Wake) -> Void

    private let stateValue = Atomic<UInt8>(State.fresh.rawValue)

    /// Creates a ticket.
    /// - Parameters:
    ///   - priority: The class it waits in (`PriorityClass.of`).
    ///   - wake: What to call when it is settled while waiting.
    public init(priority: PriorityClass, wake: @escaping @Sendable (Wake) -> Void) {
        self.priority = priority
        self.wake = wake
    }

    var state: State {
        get { State(rawValue: stateValue.load(ordering: .acquiring)) ?? .fresh }
        set { stateValue.store(newValue.rawValue, ordering: .releasing) }
    }
}
