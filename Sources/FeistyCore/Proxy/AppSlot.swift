import NIOCore

/// A connection's place under `--app-concurrency` (`AppAdmission`): none, waiting in the priority queue with its
/// request head held, or holding one of the app's slots until the exchange leaves the app.
enum AppSlot {
    /// What taking a slot came to for a request head.
    enum Outcome {
        /// A slot is held: forward.
        case go
        /// The head waits in the queue (held; reading stops).
        case wait
        /// No slot within `--queue-timeout`, or the queue is full, or a better client took the place: 503.
        case busy
    }

    case none
    /// Waiting; `id` tells this wait's wake from a late one of an earlier wait.
    case waiting(AdmissionTicket, id: UInt64, deadline: NIODeadline)
    case held(AdmissionTicket)
}
