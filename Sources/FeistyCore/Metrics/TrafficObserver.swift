import NIOCore

/// Counts one event loop's exchanges into a ``TrafficTally``, without locks: it runs only on its loop, and
/// ``FeistyMetrics`` copies the tally on that loop (`EventLoop.submit`) when it is scraped.
final class TrafficObserver: ExchangeObserver, @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Everything counted so far (read and written on `eventLoop` only).
    private(set) var tally = TrafficTally()

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func exchangeEnded(_ record: ExchangeRecord) {
        tally.add(record)
    }

    func inFlightChanged(by delta: Int) {
        tally.inFlight += delta
    }

    /// A copy of the tally, taken on the loop.
    func snapshot() -> EventLoopFuture<TrafficTally> {
        eventLoop.submit { self.tally }
    }
}
