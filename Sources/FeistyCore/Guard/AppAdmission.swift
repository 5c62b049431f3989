import NIOCore
import Synchronization

/// Admission in front of the app (`--app-concurrency N`): at most `concurrency` requests are in the app at once; the
/// rest wait, best `PriorityClass` first and first come first served within a class, for `--queue-timeout` at most.
///
/// One lock for every event loop (the slots are one resource), held for a few field updates: nothing in it allocates
/// except a queue growing, and no callback runs under it. Calls that settle another request's ticket return that
/// ticket, and the caller invokes its `wake` after the call returned.
///
/// How the proxy uses it, per request:
/// 1. `enter(ticket)`: `.admitted` → forward; `.queued` → arm the queue timeout; `.queuedShedding(t)` → the same and
///    `t.wake(.shed)`; `.full` → 503 with `Retry-After`.
/// 2. A waiting ticket's `wake(.admitted)` runs on its event loop: disarm the timeout and forward (it holds a slot);
///    `wake(.shed)`: 503.
/// 3. When the app's response ended (or the exchange was cut) for a ticket that held a slot:
///    `admission.leave(ticket)?.wake(.admitted)`.
/// 4. When the queue timeout fires, or the client goes away, while waiting: `cancel(ticket)`. `.wasWaiting` → 503 (or
///    nothing: the client is gone); `.wasAdmitted` → the slot was handed over just before, its wake is on the way:
///    forward after all, or `leave(ticket)?.wake(.admitted)` when the client is gone; then ignore the late wake;
///    `.wasNotWaiting` → it was shed: 503, and ignore the late wake.
///
/// Invariants: `inFlight <= concurrency`; a ticket waits only while every slot is taken (a freed slot goes straight
/// to the best waiter); a cancelled ticket never takes a slot; `leave` and `cancel` are idempotent, so a ticket can
/// never free a slot twice. At most `maxWaiting` tickets wait; when full, a newcomer takes the place of the newest
/// waiter of the worst class worse than its own, so a flood of one class cannot keep a better one out.
///
/// Without `--app-concurrency` (`concurrency == nil`) every ticket is admitted at once and no lock is taken.
public final class AppAdmission: Sendable {
    /// Requests in the app at once at most; `nil`: no limit.
    public let concurrency: Int?
    /// Tickets waiting at most (all classes together).
    public let maxWaiting: Int

    private struct Queues {
        var inFlight = 0
        /// Waiting tickets per class in arrival order, with cancelled ones left in place until popped or compacted.
        var queues = Array(repeating: CircularBuffer<AdmissionTicket>(), count: PriorityClass.allCases.count)
        /// Tickets waiting per class.
        var live = Array(repeating: 0, count: PriorityClass.allCases.count)
        /// Cancelled tickets still in each queue.
        var cancelled = Array(repeating: 0, count: PriorityClass.allCases.count)

        var waiting: Int { live.reduce(0, +) }

        /// The oldest ticket still waiting in the best class that has one, taken out of its queue.
        mutating func popBest() -> AdmissionTicket? {
            for rank in queues.indices where live[rank] > 0 {
                while !queues[rank].isEmpty {
                    let ticket = queues[rank].removeFirst()
                    if ticket.state == .waiting {
                        live[rank] -= 1
                        return ticket
                    }
                    cancelled[rank] -= 1
                }
            }
            return nil
        }

        /// The newest ticket still waiting in `rank`, taken out of its queue.
        mutating func popNewest(_ rank: Int) -> AdmissionTicket? {
            while !queues[rank].isEmpty {
                let ticket = queues[rank].removeLast()
                if ticket.state == .waiting {
                    live[rank] -= 1
                    return ticket
                }
                cancelled[rank] -= 1
            }
            return nil
        }

        mutating func append(_ ticket: AdmissionTicket) {
            let rank = ticket.priority.rawValue
            ticket.state = .waiting
            queues[rank].append(ticket)
            live[rank] += 1
        }

        /// Counts `ticket`'s cancellation; drops the cancelled tickets of its queue once they outnumber the waiting
        /// ones (plus some slack), so a queue of timed-out tickets stays bounded at an amortised O(1) per cancel.
        mutating func cancel(_ ticket: AdmissionTicket) {
            let rank = ticket.priority.rawValue
            ticket.state = .cancelled
            live[rank] -= 1
            cancelled[rank] += 1
            if cancelled[rank] > live[rank] + 32 {
                queues[rank].removeAll { $0.state != .waiting }
                cancelled[rank] = 0
            }
        }
    }

    private let limit: Int
    private let state = Mutex(Queues())

    /// Creates an admission with every slot free.
    /// - Parameters:
    ///   - concurrency: Requests in the app at once at most (values below 1 count as 1); `nil`: no limit.
    ///   - maxWaiting: Tickets waiting at most (values below 0 count as 0: nothing waits).
    public init(concurrency: Int?, maxWaiting: Int = 1024) {
        self.concurrency = concurrency.map { max(1, $0) }
        self.limit = self.concurrency ?? .max
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Asks for a slot for `ticket`, a ticket not entered before.
    /// - Parameter ticket: The request's ticket.
    /// - Returns: What to do with the request (see the type's description).
    public func enter(_ ticket: AdmissionTicket) -> AdmissionResult {
        guard concurrency != nil else {
            ticket.state = .admitted
            return .admitted
        }
        return state.withLock { queues in
            precondition(ticket.state == .fresh, "an admission ticket was entered twice")
            if queues.inFlight < limit {
                queues.inFlight += 1
                ticket.state = .admitted
                return .admitted
            }
            if queues.waiting < maxWaiting {
                queues.append(ticket)
                return .queued
            }
            for rank in stride(from: queues.queues.count - 1, to: ticket.priority.rawValue, by: -1) {
                if let shed = queues.popNewest(rank) {
                    shed.state = .shed
                    queues.append(ticket)
                    return .queuedShedding(shed)
                }
            }
            ticket.state = .shed
            return .full
        }
    }

    /// Gives back the slot `ticket` holds (its request is done with the app); does nothing when it holds none.
    /// - Parameter ticket: A ticket admitted by `enter` or woken with `.admitted`.
    /// - Returns: The ticket the slot went to: call its `wake(.admitted)` (`leave(ticket)?.wake(.admitted)`).
    @discardableResult
    public func leave(_ ticket: AdmissionTicket) -> AdmissionTicket? {
        guard concurrency != nil else {
            if ticket.state == .admitted { ticket.state = .left }
            return nil
        }
        return state.withLock { queues in
            guard ticket.state == .admitted else { return nil }
            ticket.state = .left
            if let next = queues.popBest() {
                next.state = .admitted
                return next
            }
            queues.inFlight -= 1
            return nil
        }
    }

    /// Takes a waiting ticket out of the queue (its queue timeout fired, or its client went away).
    ///
    /// The race this answers: `leave` on another event loop handed `ticket` a slot, and its `wake(.admitted)` is on
    /// the way to its event loop, but its timeout ran there first. Then `cancel` returns `.wasAdmitted`: the ticket
    /// holds the slot, and its owner forwards the request or calls `leave(ticket)`; either way the slot is not lost.
    /// - Parameter ticket: The request's ticket.
    /// - Returns: Whether it was waiting, holds a slot, or neither.
    public func cancel(_ ticket: AdmissionTicket) -> AdmissionCancellation {
        guard concurrency != nil else {
            return ticket.state == .admitted ? .wasAdmitted : .wasNotWaiting
        }
        return state.withLock { queues in
            switch ticket.state {
            case .waiting:
                queues.cancel(ticket)
                return .wasWaiting
            case .admitted:
                return .wasAdmitted
            case .fresh, .left, .cancelled, .shed:
                return .wasNotWaiting
            }
        }
    }

    /// Requests in the app and tickets waiting now.
    public var counts: AdmissionCounts {
        state.withLock { AdmissionCounts(inFlight: $0.inFlight, waitingByClass: $0.live) }
    }
}
