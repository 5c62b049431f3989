/// What `AppAdmission.enter` decides for a ticket.
public enum AdmissionResult: Sendable {
    /// A slot is the ticket's: forward the request, then `leave`.
    case admitted
    /// The ticket waits; arm `--queue-timeout`. It gets `wake(.admitted)` or `wake(.shed)`, or is `cancel`led.
    case queued
    /// The ticket waits in the place of `shed`, a waiter of a worse class that the full queue gave up: call
    /// `shed.wake(.shed)` (the lock is released by then), and arm `--queue-timeout` as for `.queued`.
    case queuedShedding(AdmissionTicket)
    /// The queue holds `maxWaiting` tickets of this class or better: answer 503 with `Retry-After`.
    case full
}

/// What `AppAdmission.cancel` found: whether the ticket holds a slot, which decides the caller's next step.
public enum AdmissionCancellation: Sendable, Hashable {
    /// It was waiting and is not any more; it holds no slot. Answer 503 (timeout) or drop it (the client left).
    case wasWaiting
    /// It holds a slot: it was admitted at once, or `leave` handed it one and its `wake(.admitted)` has not run on
    /// its event loop yet (the timeout fired first). Either forward the request after all, or give the slot back
    /// with `leave(ticket)`; and ignore the late wake.
    case wasAdmitted
    /// It holds no slot and was not waiting: never entered, refused as full, shed (its `wake(.shed)` may still come),
    /// cancelled before, or left.
    case wasNotWaiting
}
