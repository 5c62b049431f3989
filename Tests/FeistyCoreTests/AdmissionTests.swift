import Synchronization
import Testing

@testable import FeistyCore

/// What the wake callbacks of tickets were told, in order.
private final class WakeLog: Sendable {
    private let entries = Mutex<[(String, AdmissionTicket.Wake)]>([])

    func ticket(_ name: String, _ priority: PriorityClass) -> AdmissionTicket {
        AdmissionTicket(priority: priority) { wake in self.entries.withLock { $0.append((name, wake)) } }
    }

    var names: [String] { entries.withLock { $0.map(\.0) } }
}

private func isAdmitted(_ result: AdmissionResult) -> Bool {
    if case .admitted = result { return true }
    return false
}

private func isQueued(_ result: AdmissionResult) -> Bool {
    if case .queued = result { return true }
    return false
}

private func isFull(_ result: AdmissionResult) -> Bool {
    if case .full = result { return true }
    return false
}

private func shed(by result: AdmissionResult) -> AdmissionTicket? {
    if case .queuedShedding(let shed) = result { return shed }
    return nil
}

@Suite struct AdmissionOrderTests {
    @Test func bestClassFirstThenFirstComeFirstServed() {
        let admission = AppAdmission(concurrency: 1)
        let log = WakeLog()
        let holder = log.ticket("holder", .clean)
        #expect(isAdmitted(admission.enter(holder)))
        let waiters = [
            ("u1", PriorityClass.unknown), ("s1", .struck), ("c1", .clean), ("u2", .unknown), ("p1", .priority),
            ("c2", .clean), ("s2", .struck), ("p2", .priority),
        ].map { log.ticket($0.0, $0.1) }
        #expect(waiters.allSatisfy { isQueued(admission.enter($0)) })
        #expect(admission.counts == AdmissionCounts(inFlight: 1, waitingByClass: [2, 2, 2, 2]))

        var current = holder
        while let next = admission.leave(current) {
            next.wake(.admitted)
            #expect(admission.counts.inFlight == 1)
            current = next
        }
        #expect(log.names == ["p1", "p2", "c1", "c2", "u1", "u2", "s1", "s2"])
        #expect(admission.counts == AdmissionCounts())
    }

    @Test(arguments: [1, 2, 8])
    func concurrencyIsTheNumberOfSlots(concurrency: Int) {
        let admission = AppAdmission(concurrency: concurrency)
        let log = WakeLog()
        let tickets = (0..<(concurrency + 3)).map { log.ticket("t\($0)", .unknown) }
        let results = tickets.map { admission.enter($0) }
        #expect(results.prefix(concurrency).allSatisfy(isAdmitted))
        #expect(results.dropFirst(concurrency).allSatisfy(isQueued))
        #expect(admission.counts.inFlight == concurrency)
        #expect(admission.counts.waiting == 3)
    }

    @Test func aPriorityPeerPassesAFloodOfUnknownClients() {
        let admission = AppAdmission(concurrency: 4, maxWaiting: 10_000)
        let log = WakeLog()
        let holders = (0..<4).map { log.ticket("holder\($0)", .clean) }
        #expect(holders.allSatisfy { isAdmitted(admission.enter($0)) })
        let flood = (0..<1000).map { log.ticket("flood\($0)", .unknown) }
        #expect(flood.allSatisfy { isQueued(admission.enter($0)) })
        let peer = log.ticket("peer", .priority)
        #expect(isQueued(admission.enter(peer)))
        #expect(admission.leave(holders[2]) === peer)
        #expect(admission.leave(holders[0]) === flood[0])
    }

    @Test func aPriorityPeerPassesAFloodThatFilledTheQueue() {
        let admission = AppAdmission(concurrency: 4, maxWaiting: 1000)
        let log = WakeLog()
        let holders = (0..<4).map { log.ticket("holder\($0)", .clean) }
        #expect(holders.allSatisfy { isAdmitted(admission.enter($0)) })
        let flood = (0..<1000).map { log.ticket("flood\($0)", .unknown) }
        #expect(flood.allSatisfy { isQueued(admission.enter($0)) })
        #expect(isFull(admission.enter(log.ticket("late", .unknown))))
        let peer = log.ticket("peer", .priority)
        let shedTicket = shed(by: admission.enter(peer))
        #expect(shedTicket === flood[999])
        #expect(admission.cancel(flood[999]) == .wasNotWaiting)
        #expect(admission.leave(holders[1]) === peer)
        #expect(admission.counts.waiting == 999)
    }

    @Test func unlimitedAdmitsEveryTicketAndCountsNothing() {
        let admission = AppAdmission(concurrency: nil)
        let log = WakeLog()
        let tickets = (0..<10_000).map { log.ticket("t\($0)", .struck) }
        #expect(tickets.allSatisfy { isAdmitted(admission.enter($0)) })
        #expect(admission.counts == AdmissionCounts())
        #expect(admission.cancel(tickets[0]) == .wasAdmitted)
        #expect(tickets.allSatisfy { admission.leave($0) == nil })
        #expect(admission.cancel(tickets[0]) == .wasNotWaiting)
    }
}

@Suite struct AdmissionQueueLimitTests {
    @Test func fullQueueShedsTheNewestOfTheWorstWorseClass() {
        let admission = AppAdmission(concurrency: 1, maxWaiting: 3)
        let log = WakeLog()
        let holder = log.ticket("holder", .priority)
        #expect(isAdmitted(admission.enter(holder)))
        let c1 = log.ticket("c1", .clean)
        let s1 = log.ticket("s1", .struck)
        let s2 = log.ticket("s2", .struck)
        for ticket in [c1, s1, s2] { #expect(isQueued(admission.enter(ticket))) }

        // Same or worse class than everything worse: refused.
        #expect(isFull(admission.enter(log.ticket("s3", .struck))))
        // Better: takes the place of the newest struck waiter, then the next one.
        let u1 = log.ticket("u1", .unknown)
        #expect(shed(by: admission.enter(u1)) === s2)
        let u2 = log.ticket("u2", .unknown)
        #expect(shed(by: admission.enter(u2)) === s1)
        // Now clean, unknown, unknown wait: an unknown newcomer has nothing worse to displace.
        #expect(isFull(admission.enter(log.ticket("u3", .unknown))))
        let p1 = log.ticket("p1", .priority)
        #expect(shed(by: admission.enter(p1)) === u2)
        #expect(admission.counts == AdmissionCounts(inFlight: 1, waitingByClass: [1, 1, 1, 0]))
        #expect(admission.leave(holder) === p1)
    }

    @Test func noQueueRefusesBeyondTheSlots() {
        let admission = AppAdmission(concurrency: 2, maxWaiting: 0)
        let log = WakeLog()
        #expect(isAdmitted(admission.enter(log.ticket("a", .clean))))
        #expect(isAdmitted(admission.enter(log.ticket("b", .clean))))
        #expect(isFull(admission.enter(log.ticket("c", .priority))))
    }
}

@Suite struct AdmissionCancelTests {
    @Test func cancelledWaitersNeverTakeASlot() {
        let admission = AppAdmission(concurrency: 1)
        let log = WakeLog()
        let holder = log.ticket("holder", .clean)
        _ = admission.enter(holder)
        let waiters = (0..<1000).map { log.ticket("w\($0)", .unknown) }
        for ticket in waiters { _ = admission.enter(ticket) }
        for ticket in waiters.dropLast() { #expect(admission.cancel(ticket) == .wasWaiting) }
        #expect(admission.cancel(waiters[0]) == .wasNotWaiting)
        #expect(admission.counts == AdmissionCounts(inFlight: 1, waitingByClass: [0, 0, 1, 0]))
        #expect(admission.leave(holder) === waiters[999])
        #expect(admission.leave(waiters[999]) == nil)
        #expect(admission.counts == AdmissionCounts())
    }

    @Test func aSlotHandedToATicketWhoseTimeoutFiredFirstIsNotLost() {
        let admission = AppAdmission(concurrency: 1)
        let log = WakeLog()
        let first = log.ticket("first", .clean)
        let second = log.ticket("second", .clean)
        let third = log.ticket("third", .clean)
        #expect(isAdmitted(admission.enter(first)))
        #expect(isQueued(admission.enter(second)))
        // `leave` hands the slot to `second`; before its wake runs on its event loop, its timeout fires there.
        let woken = admission.leave(first)
        #expect(woken === second)
        #expect(admission.cancel(second) == .wasAdmitted)
        #expect(admission.counts.inFlight == 1)
        #expect(isQueued(admission.enter(third)))
        // Its owner gives the slot back (the client left); the slot goes on to the next waiter.
        #expect(admission.leave(second) === third)
        // Repeated calls are harmless: the slot cannot be given back twice.
        #expect(admission.cancel(second) == .wasNotWaiting)
        #expect(admission.leave(second) == nil)
        #expect(admission.counts.inFlight == 1)
        #expect(admission.leave(third) == nil)
        #expect(admission.counts == AdmissionCounts())
    }

    @Test func cancelTellsWhatBecameOfTheTicket() {
        let admission = AppAdmission(concurrency: 1, maxWaiting: 1)
        let log = WakeLog()
        let holder = log.ticket("holder", .clean)
        let waiter = log.ticket("waiter", .struck)
        let better = log.ticket("better", .clean)
        let refused = log.ticket("refused", .struck)
        #expect(admission.cancel(log.ticket("fresh", .clean)) == .wasNotWaiting)
        _ = admission.enter(holder)
        _ = admission.enter(waiter)
        _ = admission.enter(better)
        _ = admission.enter(refused)
        #expect(admission.cancel(holder) == .wasAdmitted)
        #expect(admission.cancel(waiter) == .wasNotWaiting)  // shed by `better`
        #expect(admission.cancel(refused) == .wasNotWaiting)  // the queue was full
        #expect(admission.cancel(better) == .wasWaiting)
        #expect(admission.leave(holder) == nil)
        #expect(admission.counts == AdmissionCounts())
    }
}

/// Set by a stress ticket's wake: 1 admitted, 2 shed.
private final class WakeFlag: Sendable {
    let value = Atomic<UInt8>(0)
}

/// What the stress test observes: requests in the app now and at most, tickets entered, slots used.
private final class StressCounters: Sendable {
    let inApp = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    let entered = Atomic<Int>(0)
    let queued = Atomic<Int>(0)
    /// Tickets `enter` shed to make room.
    let shedding = Atomic<Int>(0)
    // How each ticket ended: exactly one of these per ticket.
    let granted = Atomic<Int>(0)
    let gaveBack = Atomic<Int>(0)
    let timedOut = Atomic<Int>(0)
    let shed = Atomic<Int>(0)
    let full = Atomic<Int>(0)

    /// Tickets that ended one way or another.
    var ended: Int {
        granted.load(ordering: .relaxed) + gaveBack.load(ordering: .relaxed) + timedOut.load(ordering: .relaxed)
            + shed.load(ordering: .relaxed) + full.load(ordering: .relaxed)
    }

    /// Plays a request in the app: counted while it holds the slot (across a suspension, so other tasks find the
    /// slots taken and queue), which it then gives back.
    func useSlot(_ ticket: AdmissionTicket, of admission: AppAdmission) async {
        let now = inApp.add(1, ordering: .sequentiallyConsistent).newValue
        peak.max(now, ordering: .relaxed)
        granted.add(1, ordering: .relaxed)
        await Task.yield()
        inApp.subtract(1, ordering: .sequentiallyConsistent)
        admission.leave(ticket)?.wake(.admitted)
    }
}

@Suite struct AdmissionStressTests {
    @Test(arguments: [(1, 4), (3, 16), (8, 1000)])
    func concurrencyIsNeverExceeded(concurrency: Int, maxWaiting: Int) async {
        let admission = AppAdmission(concurrency: concurrency, maxWaiting: maxWaiting)
        let counters = StressCounters()
        let tasks = 16
        let operations = 100_000 / tasks

        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var random = UInt64(task + 1) &* 0x9E37_79B9_7F4A_7C15
                    for _ in 0..<operations {
                        random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        let roll = Int(truncatingIfNeeded: random >> 33)
                        let flag = WakeFlag()
                        let ticket = AdmissionTicket(priority: PriorityClass(rawValue: roll & 3)!) { wake in
                            flag.value.store(wake == .admitted ? 1 : 2, ordering: .sequentiallyConsistent)
                        }
                        counters.entered.add(1, ordering: .relaxed)
                        let result = admission.enter(ticket)
                        switch result {
                        case .admitted:
                            await counters.useSlot(ticket, of: admission)
                            continue
                        case .full:
                            counters.full.add(1, ordering: .relaxed)
                            continue
                        case .queuedShedding(let shed):
                            counters.queued.add(1, ordering: .relaxed)
                            counters.shedding.add(1, ordering: .relaxed)
                            shed.wake(.shed)
                        case .queued:
                            counters.queued.add(1, ordering: .relaxed)
                        }
                        // Wait a few turns for a wake, or time out at once for a quarter of the tickets.
                        let patience = roll >> 2 & 3 == 0 ? 0 : 64
                        var turns = 0
                        while flag.value.load(ordering: .sequentiallyConsistent) == 0, turns < patience {
                            await Task.yield()
                            turns += 1
                        }
                        switch flag.value.load(ordering: .sequentiallyConsistent) {
                        case 1: await counters.useSlot(ticket, of: admission)
                        case 2: counters.shed.add(1, ordering: .relaxed)
                        default:
                            switch admission.cancel(ticket) {
                            case .wasWaiting: counters.timedOut.add(1, ordering: .relaxed)
                            case .wasNotWaiting: counters.shed.add(1, ordering: .relaxed)
                            case .wasAdmitted:
                                // Lost the race to a wake: use the slot or give it back, alternately.
                                if roll & 16 == 0 {
                                    await counters.useSlot(ticket, of: admission)
                                } else {
                                    counters.gaveBack.add(1, ordering: .relaxed)
                                    admission.leave(ticket)?.wake(.admitted)
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(counters.peak.load(ordering: .relaxed) <= concurrency)
        #expect(counters.peak.load(ordering: .relaxed) >= 1)
        #expect(counters.entered.load(ordering: .relaxed) == tasks * operations)
        #expect(counters.granted.load(ordering: .relaxed) > 0)
        #expect(counters.queued.load(ordering: .relaxed) > 0)
        #expect(counters.ended == tasks * operations)
        #expect(counters.shed.load(ordering: .relaxed) == counters.shedding.load(ordering: .relaxed))
        #expect(admission.counts == AdmissionCounts())
    }
}
