import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// The fixed clock of the proxy state machine tests.
let proxyTestStart = NIODeadline.uptimeNanoseconds(1_000_000_000)

/// One connection's life through the machine, event by event: the basics every exchange goes through (keep-alive,
/// framing, refusals, timeouts, shutdown). Dispatching to instances lives in `ProxyDispatchTests`, the records in
/// `ProxyExchangeRecordTests`.
@Suite struct ProxyStateMachineTests {
    typealias Machine = ProxyConnectionStateMachine
    let t0 = proxyTestStart

    func machine(maxBody: Int64? = nil) -> Machine { Machine.test(maxBody: maxBody) }

    @Test func keepAliveExchangeReusesTheAppConnection() {
        var m = machine()
        m.bytesArrived(now: t0)
        #expect(m.state == .readingHead(deadline: t0 + .seconds(10)))
        #expect(m.head() == .dispatch)
        #expect(!m.mayReadDownstream)  // no instance yet: hold the client
        m.instanceChosen(1, now: t0)
        #expect(!m.mayReadDownstream)  // connecting: hold the client
        #expect(!m.isUpstreamConnected)
        #expect(m.upstreamConnected(expectsContinue: false, now: t0) == .sendPending(sendContinue: false))
        #expect(m.isUpstreamConnected)
        #expect(m.mayReadDownstream)
        #expect(m.requestEnd(now: t0) == .forward)
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0) == .forward(close: false))
        #expect(m.responseBody(count: 4, now: t0) == .forward)
        #expect(m.responseEnd(now: t0) == .complete(closeDownstream: false, keepUpstream: true))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
        #expect(m.head(kept: 1) == .sendOnKeptConnection(sendContinue: false))
        #expect(m.isUpstreamConnected)
    }

    @Test func aKeptConnectionClosingBeforeTheAnswerResendsAnIdempotentRequestOnce() {
        var m = machine()
        #expect(m.head(kept: 1, idempotent: true) == .sendOnKeptConnection(sendContinue: false))
        _ = m.requestEnd(now: t0)
        // The app's keep-alive timeout closed the kept connection: the instance is fine, nothing is avoided.
        #expect(m.upstreamClosed(failure: .none, now: t0) == .dispatch(avoiding: nil))
        #expect(!m.isUpstreamConnected)
        #expect(m.takeFinishedRecord() == nil)  // the exchange goes on
        m.instanceChosen(1, now: t0)
        #expect(m.upstreamConnected(expectsContinue: false, now: t0) == .sendPending(sendContinue: false))
        // Once: the new connection closing as well is a 502.
        #expect(m.upstreamClosed(failure: .none, now: t0) == .refuse(.midExchange(.appCrashed)))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))

        // A resent request that is then answered ends normally.
        var answered = machine()
        _ = answered.head(kept: 1, idempotent: true)
        _ = answered.requestEnd(now: t0)
        _ = answered.upstreamClosed(failure: .none, now: t0)
        answered.instanceChosen(1, now: t0)
        _ = answered.upstreamConnected(expectsContinue: false, now: t0)
        #expect(answered.responseHead(status: 200, upstreamKeepAlive: true, now: t0) == .forward(close: false))
        #expect(answered.responseEnd(now: t0) == .complete(closeDownstream: false, keepUpstream: true))
    }

    /// Sending these twice could repeat a side effect (POST) or needs a body feisty did not keep.
    @Test(arguments: RequestShape.notResendable, [1, nil] as [Int?])
    func aRequestThatCannotBeSentTwiceIs502WhenItsConnectionCloses(shape: RequestShape, kept: Int?) {
        var m = machine()
        m.send(shape, kept: kept)
        #expect(m.upstreamClosed(failure: .none, now: t0) == .refuse(.midExchange(.appCrashed)))
        #expect(m.takeFinishedRecord()?.retried == false)
    }

    @Test func upstreamClosingAfterEachResponseIsNotReused() {
        var m = machine()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(status: 200, upstreamKeepAlive: false, now: t0)
        #expect(m.responseEnd(now: t0) == .complete(closeDownstream: false, keepUpstream: false))
        #expect(m.upstreamClosed(failure: .none, now: t0) == .none)  // idle: the close is expected
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func clientWithoutKeepAliveIsClosedAfterTheResponse() {
        var m = machine()
        m.sendFresh(to: 1, keepAlive: false)
        _ = m.requestEnd(now: t0)
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0) == .forward(close: true))
        #expect(m.responseEnd(now: t0) == .complete(closeDownstream: true, keepUpstream: true))
        #expect(m.state == .closed)
    }

    @Test func anHTTP10ResponseDelimitedByCloseClosesTheClient() {
        var m = machine()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        #expect(
            m.responseHead(status: 200, upstreamKeepAlive: true, delimitedByClose: true, now: t0)
                == .forward(close: true)
        )
        #expect(m.responseEnd(now: t0) == .complete(closeDownstream: true, keepUpstream: true))
        #expect(m.state == .closed)
    }

    @Test func upstreamClosingBeforeTheHeadIs502() {
        var m = machine()
        _ = m.head(kept: 1)
        _ = m.requestEnd(now: t0)
        #expect(m.upstreamClosed(failure: .none, now: t0) == .refuse(.midExchange(.appCrashed)))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func upstreamClosingMidResponseClosesTheClient() {
        var m = machine()
        _ = m.head(kept: 1)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        m.responseHeadRelayed()
        #expect(m.upstreamClosed(failure: .none, now: t0) == .close)
        #expect(m.state == .closed)
    }

    @Test func connectFailureIs502OnceTheRedispatchesAreSpent() {
        var m = machine()
        _ = m.head()
        _ = m.requestEnd(now: t0)
        for instance in 1...Machine.maximumRedispatches {
            m.instanceChosen(instance, now: t0)
            #expect(m.upstreamConnectFailed(busy: false, now: t0) == .dispatch(avoiding: instance))
        }
        m.instanceChosen(9, now: t0)
        #expect(m.upstreamConnectFailed(busy: false, now: t0) == .refuse(.midExchange(.upstreamUnreachable)))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func aFullListenQueueIsRetriedWithGrowingDelaysUntilTheConnectTimeout() {
        var m = machine()  // connect timeout: the default 5 s
        m.sendFresh(to: 1, connect: false)
        _ = m.requestEnd(now: t0)
        #expect(m.busy() == .retryConnect(after: .milliseconds(1)))
        #expect(m.busy(after: .milliseconds(1)) == .retryConnect(after: .milliseconds(2)))
        #expect(m.busy(after: .milliseconds(3)) == .retryConnect(after: .milliseconds(4)))
        for _ in 0..<10 { _ = m.busy(after: .seconds(1)) }
        #expect(m.busy(after: .seconds(2)) == .retryConnect(after: .milliseconds(64)))  // capped
        // The deadline counts from the first refusal, not from each retry.
        #expect(m.busy(after: .milliseconds(4999)) == .retryConnect(after: .milliseconds(64)))
        #expect(m.busy(after: .seconds(5)) == .refuse(.midExchange(.upstreamUnreachable)))
        // A retry that connects carries on as any exchange.
        var retried = machine()
        retried.sendFresh(to: 1, connect: false)
        _ = retried.busy()
        #expect(retried.upstreamConnected(expectsContinue: false, now: t0) == .sendPending(sendContinue: false))
        // A failed connect is meaningless once connected, or between requests.
        #expect(retried.busy() == .none)
        #expect(retried.upstreamConnectFailed(busy: false, now: t0) == .none)
        var idle = machine()
        #expect(idle.busy() == .none)
        #expect(idle.upstreamConnectFailed(busy: false, now: t0) == .none)
    }

    @Test func expectContinueIsAnsweredOnceTheAppIsConnected() {
        var m = machine()
        #expect(m.head(.forward(framing: .length(10)), expectsContinue: true) == .dispatch)
        m.instanceChosen(1, now: t0)
        #expect(m.upstreamConnected(expectsContinue: true, now: t0) == .sendPending(sendContinue: true))
        // On a kept connection the app is there already: continue at once.
        var kept = machine()
        #expect(
            kept.head(.forward(framing: .length(10)), expectsContinue: true, kept: 1)
                == .sendOnKeptConnection(sendContinue: true)
        )
        // A request that ended already (nothing to continue) gets no `100 Continue`.
        var ended = machine()
        ended.sendFresh(to: 1, connect: false)
        _ = ended.requestEnd(now: t0)
        #expect(ended.upstreamConnected(expectsContinue: true, now: t0) == .sendPending(sendContinue: false))
    }

    @Test func aConnectionThatOpensAfterTheExchangeEndedIsDropped() {
        var m = machine()
        m.sendFresh(to: 1, connect: false)
        m.downstreamClosed(now: t0)
        #expect(m.upstreamConnected(expectsContinue: false, now: t0) == .drop)
        var kept = machine()
        _ = kept.head(kept: 1)  // already connected: a second connection is not wanted
        #expect(kept.upstreamConnected(expectsContinue: false, now: t0) == .drop)
    }

    @Test func chunkedBodyOverTheLimitIs413BeforeAnyResponse() {
        var m = machine(maxBody: 100)
        _ = m.head(.forward(framing: .chunked), kept: 1)
        #expect(m.requestBody(count: 60, now: t0) == .forward)
        #expect(m.requestBody(count: 60, now: t0) == .refuse(.midExchange(.bodyTooLarge)))
        #expect(m.closesAfterRefusal)
        #expect(m.requestBody(count: 60, now: t0) == .discard)
        #expect(m.requestEnd(now: t0) == .close)
        #expect(m.state == .closed)
    }

    @Test func aBodyOverTheLimitAfterTheResponseHeadClosesTheConnection() {
        var m = machine(maxBody: 100)
        _ = m.head(.forward(framing: .chunked), kept: 1)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        #expect(m.requestBody(count: 101, now: t0) == .close)  // too late for a 413: the app's head went out
        #expect(m.state == .closed)
    }

    @Test func earlyResponseIsRelayedThenTheConnectionLingersAndCloses() {
        var m = machine()
        _ = m.head(.forward(framing: .length(1 << 30)), kept: 1)
        #expect(m.requestBody(count: 1000, now: t0) == .forward)
        #expect(m.responseHead(status: 413, upstreamKeepAlive: false, now: t0) == .forward(close: true))
        #expect(m.responseEnd(now: t0) == .completeEarly)
        #expect(m.requestBody(count: 1000, now: t0) == .discard)
        #expect(m.tick(now: t0 + .seconds(1)) == .none)
        #expect(m.tick(now: t0 + .seconds(2)) == .close)  // the default linger: 2 s
        #expect(m.state == .closed)
        // A client that finishes its body meanwhile is closed then (the close was announced).
        var finishing = machine()
        _ = finishing.head(.forward(framing: .length(2000)), kept: 1)
        _ = finishing.responseHead(status: 413, upstreamKeepAlive: true, now: t0)
        _ = finishing.responseEnd(now: t0)
        #expect(finishing.requestEnd(now: t0) == .close)
    }

    @Test func refusedRequestWithSmallBodyIsDrainedAndKeptAlive() {
        var m = machine()
        let action = m.head(.refuse(.routeNotFound, framing: .length(10)), verdict: .notFound)
        #expect(action == .refuse(.atHead(.routeNotFound)))
        #expect(!m.closesAfterRefusal)
        #expect(m.requestBody(count: 10, now: t0) == .discard)
        #expect(m.requestEnd(now: t0) == .refusalComplete)
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
    }

    @Test func refusedRequestWithLargeOrUnsentBodyCloses() {
        var large = machine()
        _ = large.head(.refuse(.routeNotFound, framing: .length(1 << 20)), verdict: .notFound)
        #expect(large.closesAfterRefusal)
        var continued = machine()
        _ = continued.head(.refuse(.bodyTooLarge, framing: .length(10)), expectsContinue: true)
        #expect(continued.closesAfterRefusal)
        // A body the client holds back for `100 Continue` never comes: not drained whatever the refusal.
        var unsent = machine()
        _ = unsent.head(.refuse(.routeNotFound, framing: .length(10)), expectsContinue: true, verdict: .notFound)
        #expect(unsent.closesAfterRefusal)
        #expect(continued.tick(now: t0 + .seconds(1)) == .none)
        #expect(continued.tick(now: t0 + .seconds(3)) == .close)  // the client never sends: linger ends
        // A drained body that turns out larger than the budget closes too.
        var growing = machine()
        _ = growing.head(.refuse(.routeNotFound, framing: .chunked), verdict: .notFound)
        #expect(!growing.closesAfterRefusal)
        #expect(growing.requestBody(count: Int(Machine.drainBudget), now: t0) == .discard)
        #expect(!growing.closesAfterRefusal)
        #expect(growing.requestBody(count: 1, now: t0) == .discard)
        #expect(growing.closesAfterRefusal)
        #expect(growing.requestEnd(now: t0) == .close)
    }

    @Test func slowHeadIs408AndIdleConnectionCloses() {
        var slow = machine()
        slow.bytesArrived(now: t0)
        #expect(slow.awaitsFirstByte == false)
        slow.bytesArrived(now: t0 + .seconds(5))  // later bytes do not push the deadline
        #expect(slow.tick(now: t0 + .seconds(9)) == .none)
        #expect(slow.tick(now: t0 + .seconds(10)) == .refuseAtEdgeAndClose(.requestHeadTimeout))
        var idle = machine()
        #expect(idle.awaitsFirstByte)
        #expect(idle.tick(now: t0 + .seconds(59)) == .none)
        #expect(idle.tick(now: t0 + .seconds(60)) == .close)
        #expect(idle.state == .closed)
    }

    @Test func silentAppIs504BeforeTheHeadAndACloseAfterIt() {
        var m = machine()
        _ = m.head(kept: 1)
        _ = m.requestEnd(now: t0)
        #expect(m.tick(now: t0 + .seconds(29)) == .none)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.upstreamTimeout)))
        var streaming = machine()
        _ = streaming.head(kept: 1)
        _ = streaming.requestEnd(now: t0)
        _ = streaming.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .seconds(20))
        streaming.responseHeadRelayed()
        #expect(streaming.tick(now: t0 + .seconds(31)) == .none)  // the head pushed the deadline on
        _ = streaming.responseBody(count: 1, now: t0 + .seconds(45))
        #expect(streaming.tick(now: t0 + .seconds(74)) == .none)  // so does every body part
        #expect(streaming.tick(now: t0 + .seconds(75)) == .close)
    }

    @Test func parseErrorsAreAnsweredAtTheEdgeUnlessAResponseIsStreaming() {
        var m = machine()
        #expect(m.parseError(.headerTooLarge, unparsed: .unparsed(), now: t0) == .refuseAtEdgeAndClose(.headerTooLarge))
        #expect(m.state == .closed)
        var waiting = machine()
        _ = waiting.head(.forward(framing: .chunked), kept: 1)
        #expect(
            waiting.parseError(.malformedRequest(reason: "x"), unparsed: .unparsed(), now: t0)
                == .refuseAtEdgeAndClose(.malformedRequest(reason: "x"))
        )
        var streaming = machine()
        _ = streaming.head(.forward(framing: .chunked), kept: 1)
        _ = streaming.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        #expect(streaming.parseError(.malformedRequest(reason: "x"), unparsed: .unparsed(), now: t0) == .close)
        #expect(streaming.state == .closed)
    }

    @Test func pipelinedHeadsWaitAndQuiescingClosesAfterTheExchange() {
        var m = machine()
        #expect(m.acceptsRequestHead)
        _ = m.head(kept: 1)
        #expect(!m.acceptsRequestHead)  // a pipelined head is held until this exchange ended
        #expect(m.head(kept: 1) == .close)  // the handler holds it: one arriving anyway is a broken invariant
        #expect(m.requestEnd(now: t0) == .forward)
        #expect(m.quiesce() == .none)  // busy: finish the exchange first, announcing the close
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0) == .forward(close: true))
        #expect(m.responseEnd(now: t0) == .complete(closeDownstream: true, keepUpstream: true))
        #expect(!m.acceptsRequestHead)

        var idle = machine()
        #expect(idle.quiesce() == .close)  // an idle keep-alive connection closes at once
        #expect(idle.state == .closed)
        var reading = machine()
        reading.bytesArrived(now: t0)
        #expect(reading.quiesce() == .close)  // a head still arriving is not waited for either
        // A refusal being drained closes after its body instead of taking the next request.
        var refused = machine()
        _ = refused.head(.refuse(.routeNotFound, framing: .length(10)), verdict: .notFound)
        #expect(refused.quiesce() == .none)
        #expect(refused.closesAfterRefusal)
        #expect(refused.requestEnd(now: t0) == .close)
    }
}

// MARK: - helpers shared by the Proxy*Tests suites

extension ProxyConnectionStateMachine {
    /// Distinct timeouts so a test can tell which one fired: header 10 s, idle 60 s, upstream 30 s; the rest default
    /// (linger 2 s, connect 5 s, queue 30 s, avoidance 1 s).
    static let testTimeouts = Timeouts(header: .seconds(10), idle: .seconds(60), upstream: .seconds(30))

    /// A fresh connection at the tests' fixed clock.
    static func test(maxBody: Int64? = nil, timeouts: Timeouts = testTimeouts) -> Self {
        Self(timeouts: timeouts, maxBodyBytes: maxBody, now: proxyTestStart)
    }

    /// `requestHead` with the common case as defaults: a forwarded body-less keep-alive POST (not idempotent) that
    /// needs a fresh app connection, at the tests' fixed clock.
    mutating func head(
        _ decision: RequestAdmission.Decision = .forward(framing: .none),
        keepAlive: Bool = true,
        expectsContinue: Bool = false,
        kept: Int? = nil,
        idempotent: Bool = false,
        verdict: RouteGateDecision = .forward(rule: 0),
        target: String = "/",
        at now: NIODeadline = proxyTestStart
    ) -> HeadAction {
        let record = ExchangeRecord(
            client: "192.0.2.7",
            method: idempotent ? .GET : .POST,
            target: target,
            verdict: verdict,
            receivedAt: now
        )
        return requestHead(
            record,
            decision: decision,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue,
            keptInstance: kept,
            idempotent: idempotent,
            now: now
        )
    }

    /// The instance's listen queue was full (`EAGAIN`) `elapsed` after the tests' start.
    mutating func busy(after elapsed: TimeAmount = .zero) -> ConnectFailedAction {
        upstreamConnectFailed(busy: true, now: proxyTestStart + elapsed)
    }

    /// A forwarded request on a fresh connection to `instance` (connected unless `connect` is false); the request
    /// has not ended.
    mutating func sendFresh(
        to instance: Int,
        _ decision: RequestAdmission.Decision = .forward(framing: .none),
        keepAlive: Bool = true,
        idempotent: Bool = false,
        connect: Bool = true,
        at now: NIODeadline = proxyTestStart
    ) {
        let action = head(decision, keepAlive: keepAlive, idempotent: idempotent, at: now)
        #expect(action == .dispatch)
        instanceChosen(instance, now: now)
        if connect { _ = upstreamConnected(expectsContinue: false, now: now) }
    }

    /// A whole request of `shape` sent to instance 1 (on a kept connection to `kept` when given), awaiting the head.
    mutating func send(_ shape: RequestShape, kept: Int? = nil, at now: NIODeadline = proxyTestStart) {
        if let kept {
            _ = head(.forward(framing: shape.framing), kept: kept, idempotent: shape.idempotent, at: now)
        } else {
            sendFresh(to: 1, .forward(framing: shape.framing), idempotent: shape.idempotent, at: now)
        }
        if shape.ends { _ = requestEnd(now: now) }
    }
}

extension ProxyConnectionStateMachine.Refusing {
    /// Feisty answers instead of the app mid-exchange: the app connection goes; the client's closes at once only
    /// when `closeNow` (a finished request on a connection that cannot be kept).
    static func midExchange(_ refusal: ProxyRefusal, closeNow: Bool = false) -> Self {
        Self(refusal: refusal, closeUpstream: true, closeNow: closeNow)
    }

    /// Feisty refuses a head it judged: no app connection is involved, the body (if any) is drained or not first.
    static func atHead(_ refusal: ProxyRefusal) -> Self {
        Self(refusal: refusal, closeUpstream: false, closeNow: false)
    }
}

extension ExchangeRecord {
    /// What the handler passes for a head that never parsed.
    static func unparsed(at now: NIODeadline = proxyTestStart) -> Self {
        ExchangeRecord(client: "192.0.2.7", method: .RAW(value: "-"), target: "-", verdict: nil, receivedAt: now)
    }
}

/// The parts of a request that decide whether it may be sent to the app twice.
struct RequestShape: Sendable, CustomTestStringConvertible {
    var idempotent: Bool
    var framing: RequestAdmission.Framing
    /// Whether the request's end arrived before the app connection closed.
    var ends = true

    var testDescription: String { "\(idempotent ? "GET" : "POST") \(framing)\(ends ? "" : " unfinished")" }

    static let resendable = RequestShape(idempotent: true, framing: .none)
    /// A POST, a GET with a body (fixed or chunked). (A body-less GET whose `.end` has not arrived yet is
    /// resendable: its head is all of it.)
    static let notResendable: [RequestShape] = [
        RequestShape(idempotent: false, framing: .none), RequestShape(idempotent: true, framing: .length(3)),
        RequestShape(idempotent: true, framing: .chunked),
    ]
}
