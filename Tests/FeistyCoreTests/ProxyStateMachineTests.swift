import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// The fixed clock of these tests.
private let testStart = NIODeadline.uptimeNanoseconds(1_000_000_000)

@Suite struct ProxyStateMachineTests {
    typealias Machine = ProxyConnectionStateMachine
    let t0 = testStart
    let timeouts = Machine.Timeouts(header: .seconds(10), idle: .seconds(60), upstream: .seconds(30))

    func machine(maxBody: Int64? = nil) -> Machine { Machine(timeouts: timeouts, maxBodyBytes: maxBody, now: t0) }

    @Test func keepAliveExchangeReusesTheAppConnection() {
        var m = machine()
        m.bytesArrived(now: t0)
        #expect(m.state == .readingHead(deadline: t0 + .seconds(10)))
        let head = m.head()
        #expect(head == .forwardRequestHead(connect: true, sendContinue: false))
        #expect(!m.mayReadDownstream)  // connecting: hold the client
        #expect(m.upstreamConnected(expectsContinue: false) == .upstreamReady(sendContinue: false))
        #expect(m.requestEnd(now: t0) == .forwardRequestEnd)
        #expect(m.responseHead(upstreamKeepAlive: true, now: t0) == .forwardResponseHead(close: false))
        #expect(m.responseBody(now: t0) == .forwardResponseBody)
        #expect(
            m.responseEnd(now: t0)
                == .forwardResponseEnd(
                    closeDownstream: false,
                    keepUpstream: true,
                    exchangeComplete: true
                )
        )
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
        let second = m.head(reusable: true)
        #expect(second == .forwardRequestHead(connect: false, sendContinue: false))
    }

    @Test func aReusedConnectionClosingBeforeTheAnswerIsRetriedOnceForIdempotentRequests() {
        func exchange(idempotent: Bool, framing: RequestAdmission.Framing, reusable: Bool) -> Machine {
            var m = machine()
            _ = m.head(.forward(framing: framing), reusable: reusable, idempotent: idempotent)
            if !reusable { _ = m.upstreamConnected(expectsContinue: false) }
            _ = m.requestEnd(now: t0)
            return m
        }
        var m = exchange(idempotent: true, framing: .none, reusable: true)
        #expect(m.upstreamClosed(now: t0) == .retryOnNewConnection)
        #expect(!m.isUpstreamConnected)
        #expect(m.upstreamConnected(expectsContinue: false) == .upstreamReady(sendContinue: false))
        // Once: the new connection closing as well is a 502.
        #expect(m.upstreamClosed(now: t0) == .refuse(.upstreamUnreachable, closeUpstream: true, closeNow: false))
        // A retried request that is then answered ends normally.
        m = exchange(idempotent: true, framing: .none, reusable: true)
        _ = m.upstreamClosed(now: t0)
        _ = m.upstreamConnected(expectsContinue: false)
        #expect(m.responseHead(upstreamKeepAlive: true, now: t0) == .forwardResponseHead(close: false))
        // Not replayed: a POST, a request with a body, a request that had a fresh connection of its own.
        for (idempotent, framing, reusable) in [
            (false, RequestAdmission.Framing.none, true), (true, .length(3), true), (true, .none, false),
        ] {
            var other = exchange(idempotent: idempotent, framing: framing, reusable: reusable)
            #expect(
                other.upstreamClosed(now: t0) == .refuse(.upstreamUnreachable, closeUpstream: true, closeNow: false)
            )
        }
    }

    @Test func upstreamClosingAfterEachResponseIsNotReused() {
        var m = machine()
        _ = m.head()
        _ = m.upstreamConnected(expectsContinue: false)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(upstreamKeepAlive: false, now: t0)
        #expect(
            m.responseEnd(now: t0)
                == .forwardResponseEnd(
                    closeDownstream: false,
                    keepUpstream: false,
                    exchangeComplete: true
                )
        )
        #expect(m.upstreamClosed(now: t0) == .none)  // idle: the close is expected
    }

    @Test func clientWithoutKeepAliveIsClosedAfterTheResponse() {
        var m = machine()
        _ = m.head(keepAlive: false)
        _ = m.upstreamConnected(expectsContinue: false)
        _ = m.requestEnd(now: t0)
        #expect(m.responseHead(upstreamKeepAlive: true, now: t0) == .forwardResponseHead(close: true))
        #expect(
            m.responseEnd(now: t0)
                == .forwardResponseEnd(
                    closeDownstream: true,
                    keepUpstream: true,
                    exchangeComplete: true
                )
        )
        #expect(m.state == .closed)
    }

    @Test func upstreamClosingBeforeTheHeadIs502() {
        var m = machine()
        _ = m.head(reusable: true)
        _ = m.requestEnd(now: t0)
        #expect(m.upstreamClosed(now: t0) == .refuse(.upstreamUnreachable, closeUpstream: true, closeNow: false))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func upstreamClosingMidResponseClosesTheClient() {
        var m = machine()
        _ = m.head(reusable: true)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(upstreamKeepAlive: true, now: t0)
        #expect(m.upstreamClosed(now: t0) == .close)
    }

    @Test func connectFailureIs502() {
        var m = machine()
        _ = m.head()
        _ = m.requestEnd(now: t0)
        #expect(
            m.upstreamConnectFailed(now: t0)
                == .refuse(
                    .upstreamUnreachable,
                    closeUpstream: true,
                    closeNow: false
                )
        )
    }

    @Test func aFullListenQueueIsRetriedWithGrowingDelaysUntilTheConnectTimeout() {
        var m = machine()  // connect timeout: the default 5 s
        _ = m.head()
        _ = m.requestEnd(now: t0)
        #expect(m.upstreamBusy(now: t0) == .retryConnect(after: .milliseconds(1)))
        #expect(m.upstreamBusy(now: t0 + .milliseconds(1)) == .retryConnect(after: .milliseconds(2)))
        #expect(m.upstreamBusy(now: t0 + .milliseconds(3)) == .retryConnect(after: .milliseconds(4)))
        for _ in 0..<10 { _ = m.upstreamBusy(now: t0 + .seconds(1)) }
        #expect(m.upstreamBusy(now: t0 + .seconds(2)) == .retryConnect(after: .milliseconds(64)))  // capped
        // The deadline counts from the first refusal, not from each retry.
        #expect(
            m.upstreamBusy(now: t0 + .seconds(5)) == .refuse(.upstreamUnreachable, closeUpstream: true, closeNow: false)
        )
        // A retry that connects carries on as any exchange.
        var retried = machine()
        _ = retried.head()
        _ = retried.upstreamBusy(now: t0)
        #expect(retried.upstreamConnected(expectsContinue: false) == .upstreamReady(sendContinue: false))
        // Busy is meaningless once connected, or between requests.
        #expect(retried.upstreamBusy(now: t0) == .none)
        var idle = machine()
        #expect(idle.upstreamBusy(now: t0) == .none)
    }

    @Test func expectContinueIsAnsweredOnceTheAppIsConnected() {
        var m = machine()
        let head = m.head(.forward(framing: .length(10)), expectsContinue: true)
        #expect(head == .forwardRequestHead(connect: true, sendContinue: false))
        #expect(m.upstreamConnected(expectsContinue: true) == .upstreamReady(sendContinue: true))
    }

    @Test func chunkedBodyOverTheLimitIs413BeforeAnyResponse() {
        var m = machine(maxBody: 100)
        _ = m.head(.forward(framing: .chunked), reusable: true)
        #expect(m.requestBody(count: 60, now: t0) == .forwardRequestBody)
        #expect(m.requestBody(count: 60, now: t0) == .refuse(.bodyTooLarge, closeUpstream: true, closeNow: false))
        #expect(m.requestBody(count: 60, now: t0) == .discard)
        #expect(m.requestEnd(now: t0) == .close)
    }

    @Test func earlyResponseIsRelayedThenTheConnectionLingersAndCloses() {
        var m = machine()
        _ = m.head(.forward(framing: .length(1 << 30)), reusable: true)
        #expect(m.requestBody(count: 1000, now: t0) == .forwardRequestBody)
        #expect(m.responseHead(upstreamKeepAlive: false, now: t0) == .forwardResponseHead(close: true))
        #expect(
            m.responseEnd(now: t0)
                == .forwardResponseEnd(
                    closeDownstream: false,
                    keepUpstream: false,
                    exchangeComplete: false
                )
        )
        #expect(m.requestBody(count: 1000, now: t0) == .discard)
        #expect(m.tick(now: t0 + .seconds(1)) == .none)
        #expect(m.tick(now: t0 + .seconds(3)) == .close)
    }

    @Test func refusedRequestWithSmallBodyIsDrainedAndKeptAlive() {
        var m = machine()
        let action = m.head(.refuse(.routeNotFound, framing: .length(10)))
        #expect(action == .refuse(.routeNotFound, closeUpstream: false, closeNow: false))
        #expect(!m.closesAfterRefusal)
        #expect(m.requestBody(count: 10, now: t0) == .discard)
        #expect(m.requestEnd(now: t0) == .refusalComplete)
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func refusedRequestWithLargeOrUnsentBodyCloses() {
        var large = machine()
        _ = large.head(.refuse(.routeNotFound, framing: .length(1 << 20)))
        #expect(large.closesAfterRefusal)
        var continued = machine()
        _ = continued.head(.refuse(.bodyTooLarge, framing: .length(10)), expectsContinue: true)
        #expect(continued.closesAfterRefusal)
        #expect(continued.tick(now: t0 + .seconds(3)) == .close)  // the client never sends: linger ends
    }

    @Test func slowHeadIs408AndIdleConnectionCloses() {
        var slow = machine()
        slow.bytesArrived(now: t0)
        #expect(slow.tick(now: t0 + .seconds(9)) == .none)
        #expect(slow.tick(now: t0 + .seconds(10)) == .refuseAtEdgeAndClose(.requestHeadTimeout))
        var idle = machine()
        #expect(idle.tick(now: t0 + .seconds(59)) == .none)
        #expect(idle.tick(now: t0 + .seconds(60)) == .close)
    }

    @Test func silentAppIs504BeforeTheHeadAndACloseAfterIt() {
        var m = machine()
        _ = m.head(reusable: true)
        _ = m.requestEnd(now: t0)
        #expect(m.tick(now: t0 + .seconds(29)) == .none)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.upstreamTimeout, closeUpstream: true, closeNow: false))
        var streaming = machine()
        _ = streaming.head(reusable: true)
        _ = streaming.requestEnd(now: t0)
        _ = streaming.responseHead(upstreamKeepAlive: true, now: t0 + .seconds(20))
        #expect(streaming.tick(now: t0 + .seconds(31)) == .none)  // the head pushed the deadline on
        #expect(streaming.tick(now: t0 + .seconds(50)) == .close)
    }

    @Test func parseErrorsAreAnsweredAtTheEdgeUnlessAResponseIsStreaming() {
        var m = machine()
        #expect(m.parseError(.headerTooLarge) == .refuseAtEdgeAndClose(.headerTooLarge))
        var streaming = machine()
        _ = streaming.head(.forward(framing: .chunked), reusable: true)
        _ = streaming.responseHead(upstreamKeepAlive: true, now: t0)
        #expect(streaming.parseError(.malformedRequest(reason: "x")) == .close)
    }

    @Test func pipelinedHeadsWaitAndQuiescingClosesAfterTheExchange() {
        var m = machine()
        #expect(m.acceptsRequestHead)
        _ = m.head(reusable: true)
        #expect(!m.acceptsRequestHead)  // a pipelined head is held until this exchange ended
        #expect(m.requestEnd(now: t0) == .forwardRequestEnd)
        #expect(m.quiesce() == .none)  // busy: finish the exchange first, announcing the close
        #expect(m.responseHead(upstreamKeepAlive: true, now: t0) == .forwardResponseHead(close: true))
        #expect(
            m.responseEnd(now: t0)
                == .forwardResponseEnd(
                    closeDownstream: true,
                    keepUpstream: true,
                    exchangeComplete: true
                )
        )
        #expect(!m.acceptsRequestHead)

        var idle = machine()
        #expect(idle.quiesce() == .close)  // an idle keep-alive connection closes at once
        #expect(idle.state == .closed)
    }
}

extension ProxyConnectionStateMachine {
    /// `requestHead` with the common case as defaults: a forwarded body-less keep-alive request, a fresh app
    /// connection, at the tests' fixed clock.
    mutating func head(
        _ decision: RequestAdmission.Decision = .forward(framing: .none),
        keepAlive: Bool = true,
        expectsContinue: Bool = false,
        reusable: Bool = false,
        idempotent: Bool = false
    ) -> Action {
        requestHead(
            decision: decision,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue,
            upstreamReusable: reusable,
            idempotent: idempotent,
            now: testStart
        )
    }
}
