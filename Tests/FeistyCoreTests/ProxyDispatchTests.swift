import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// Getting a request to an instance: the queue while none is ready, refused and busy connects, the one resend of a
/// request whose instance died under it, hung instances, and the deadlines around all of that.
@Suite struct ProxyDispatchTests {
    typealias Machine = ProxyConnectionStateMachine
    let t0 = proxyTestStart

    func machine(_ timeouts: Machine.Timeouts = Machine.testTimeouts) -> Machine { Machine.test(timeouts: timeouts) }

    /// A body-less request (idempotent when asked) that found no instance ready at t0 and waits in the queue.
    func queued(keepAlive: Bool = true, idempotent: Bool = false, ends: Bool = true) -> Machine {
        var m = machine()
        #expect(m.head(keepAlive: keepAlive, idempotent: idempotent) == .dispatch)
        #expect(m.noInstanceReady(now: t0) == .wait)
        if ends { #expect(m.requestEnd(now: t0) == .forward) }
        return m
    }

    // MARK: the queue

    @Test func aQueuedRequestIsSentWhenAnInstanceAppears() {
        var m = machine()
        _ = m.head()
        #expect(m.noInstanceReady(now: t0) == .wait)
        #expect(!m.mayReadDownstream)  // its body would pile up with nowhere to go
        #expect(!m.isUpstreamConnected)
        #expect(m.requestEnd(now: t0) == .forward)  // buffered by the handler with the head
        #expect(m.mayReadDownstream)  // nothing more to read for this request: a pipelined head may come
        #expect(m.tick(now: t0 + .seconds(29)) == .none)
        m.instanceChosen(2, now: t0 + .seconds(29))
        #expect(
            m.upstreamConnected(expectsContinue: false, now: t0 + .seconds(29)) == .sendPending(sendContinue: false)
        )
        #expect(m.tick(now: t0 + .seconds(31)) == .none)  // the queue deadline is gone with the queue
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .seconds(32)) == .forward(close: false))
        #expect(m.responseEnd(now: t0 + .seconds(32)) == .complete(closeDownstream: false, keepUpstream: true))
        let record = m.takeFinishedRecord()
        #expect(record?.instance == 2)
        #expect(record?.status == 200)
        #expect(record?.refusal == nil)
        #expect(record?.upstreamLatency == .seconds(3))  // from the dispatch, not from the arrival
        #expect(record?.timeToFirstByte == .seconds(32))
    }

    /// 503 once `timeouts.queue` (30 s) passed since the request first found no instance; the connection stays
    /// open when the client wants it.
    @Test(arguments: [true, false])
    func aQueuedRequestIs503AtTheQueueTimeoutOnTheTick(keepAlive: Bool) {
        var m = queued(keepAlive: keepAlive)
        #expect(m.tick(now: t0 + .milliseconds(29_999)) == .none)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable, closeNow: !keepAlive)))
        #expect(m.state == (keepAlive ? .idle(deadline: t0 + .seconds(90)) : .closed))
        let record = m.takeFinishedRecord()
        #expect(record?.status == 503)
        #expect(record?.refusal == .appUnavailable)
        #expect(record?.instance == nil)
        #expect(record?.forwardedAt == nil)
    }

    @Test func theQueueTimeoutCountsFromTheFirstMissNotFromEachRetry() {
        var m = queued()
        // Publications without a usable instance (all draining, or the only one avoided) do not push it on.
        #expect(m.noInstanceReady(now: t0 + .seconds(10)) == .wait)
        #expect(m.noInstanceReady(now: t0 + .seconds(29)) == .wait)
        #expect(m.noInstanceReady(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable)))
        #expect(m.takeFinishedRecord()?.refusal == .appUnavailable)
    }

    @Test func theQueueTimeoutIsConfigurable() {
        var timeouts = Machine.testTimeouts
        timeouts.queue = .zero  // `--queue-timeout 0`: refuse at once
        var m = machine(timeouts)
        _ = m.head()
        #expect(m.noInstanceReady(now: t0) == .refuse(.midExchange(.appUnavailable)))
    }

    @Test func aFullQueueRefusesANewcomerAtOnceButKeepsTheWaiting() {
        var newcomer = machine()
        _ = newcomer.head()
        #expect(newcomer.noInstanceReady(queueFull: true, now: t0) == .refuse(.midExchange(.appUnavailable)))
        #expect(newcomer.takeFinishedRecord()?.status == 503)
        // A request already queued is one of those filling it: it keeps its place until its own timeout.
        var waiting = queued()
        #expect(waiting.noInstanceReady(queueFull: true, now: t0 + .seconds(1)) == .wait)
        #expect(waiting.takeFinishedRecord() == nil)
    }

    @Test func aQueuedRequestWhoseBodyHasNotEndedClosesAfterItsRefusal() {
        var m = machine()
        _ = m.head(.forward(framing: .length(10)))
        _ = m.noInstanceReady(now: t0)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable)))
        #expect(m.closesAfterRefusal)  // the unread body cannot be told from the next request
        #expect(m.requestBody(count: 10, now: t0 + .seconds(30)) == .discard)
        #expect(m.requestEnd(now: t0 + .seconds(30)) == .close)
    }

    @Test func aQueuedRequestOnAQuiescingConnectionClosesWithIts503() {
        var m = queued()
        #expect(m.quiesce() == .none)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable, closeNow: true)))
        #expect(m.state == .closed)
    }

    @Test func aClientLeavingTheQueueEndsTheExchange() {
        var m = queued()
        m.downstreamClosed(now: t0 + .seconds(3))
        #expect(m.state == .closed)
        #expect(m.tick(now: t0 + .seconds(30)) == .none)  // no 503 for a client that is gone
        let record = m.takeFinishedRecord()
        #expect(record?.status == 0)
        #expect(record?.endedAt == t0 + .seconds(3))
    }

    // MARK: refused and busy connects

    @Test func aRefusedConnectionIsSentToAnotherInstanceAvoidingIt() {
        var m = machine()
        // Nothing reached the app: even a POST with a body may go elsewhere.
        m.sendFresh(to: 1, .forward(framing: .length(10)), connect: false)
        #expect(m.upstreamConnectFailed(busy: false, now: t0) == .dispatch(avoiding: 1))
        #expect(!m.isUpstreamConnected)
        #expect(m.avoidedInstance(now: t0) == 1)
        #expect(m.avoidedInstance(now: t0 + .milliseconds(999)) == 1)
        #expect(m.avoidedInstance(now: t0 + .seconds(1)) == nil)  // `timeouts.avoidance`
        #expect(m.takeFinishedRecord() == nil)
        m.instanceChosen(2, now: t0 + .milliseconds(1))
        #expect(
            m.upstreamConnected(expectsContinue: false, now: t0 + .milliseconds(2)) == .sendPending(sendContinue: false)
        )
        _ = m.requestBody(count: 10, now: t0 + .milliseconds(2))
        _ = m.requestEnd(now: t0 + .milliseconds(2))
        _ = m.responseHead(status: 201, upstreamKeepAlive: true, now: t0 + .milliseconds(5))
        _ = m.responseEnd(now: t0 + .milliseconds(5))
        let record = m.takeFinishedRecord()
        #expect(record?.instance == 2)
        #expect(record?.status == 201)
        #expect(record?.retried == false)  // a connect that failed sent nothing
        #expect(record?.upstreamLatency == .milliseconds(4))
    }

    @Test func redispatchesAfterRefusedConnectionsAreBoundedThen502() {
        var m = machine()
        _ = m.head(idempotent: true)
        _ = m.requestEnd(now: t0)
        for attempt in 1...Machine.maximumRedispatches {
            m.instanceChosen(attempt, now: t0)
            #expect(m.upstreamConnectFailed(busy: false, now: t0) == .dispatch(avoiding: attempt))
        }
        m.instanceChosen(7, now: t0)
        #expect(m.upstreamConnectFailed(busy: false, now: t0) == .refuse(.midExchange(.upstreamUnreachable)))
        let record = m.takeFinishedRecord()
        #expect(record?.status == 502)
        #expect(record?.refusal == .upstreamUnreachable)
        #expect(record?.instance == 7)
    }

    @Test func aRefusedConnectionWithNoOtherInstanceWaitsOutTheAvoidance() {
        var m = machine()
        m.sendFresh(to: 1, connect: false)
        _ = m.requestEnd(now: t0)
        #expect(m.upstreamConnectFailed(busy: false, now: t0) == .dispatch(avoiding: 1))
        // The only instance is avoided: the request waits, and the tick sends it once the avoidance is over.
        #expect(m.noInstanceReady(now: t0) == .wait)
        #expect(m.tick(now: t0 + .milliseconds(500)) == .none)
        #expect(m.tick(now: t0 + .seconds(1)) == .dispatch)
        #expect(m.avoidedInstance(now: t0 + .seconds(1)) == nil)
        #expect(m.tick(now: t0 + .milliseconds(1500)) == .none)  // once
        // Still nothing ready: it keeps waiting, and the queue timeout counts from its first wait.
        #expect(m.noInstanceReady(now: t0 + .milliseconds(1500)) == .wait)
        #expect(m.tick(now: t0 + .milliseconds(29_999)) == .none)
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable)))
    }

    @Test func theAvoidanceTickDoesNothingOnceTheRequestIsOnItsWay() {
        var m = machine()
        m.sendFresh(to: 1, connect: false)
        _ = m.requestEnd(now: t0)
        _ = m.upstreamConnectFailed(busy: false, now: t0)
        m.instanceChosen(2, now: t0)  // another instance was ready
        #expect(m.tick(now: t0 + .seconds(2)) == .none)
        #expect(m.upstreamConnected(expectsContinue: false, now: t0 + .seconds(2)) == .sendPending(sendContinue: false))
    }

    /// 1 ms doubling up to 64 ms.
    @Test(arguments: [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (7, 64), (100, 64)] as [(Int, Int64)])
    func busyRetryDelays(attempt: Int, milliseconds: Int64) {
        #expect(Machine.busyRetryDelay(attempt: attempt) == .milliseconds(milliseconds))
    }

    @Test func aBusyInstanceIsRetriedNotAvoidedAndAnotherInstanceRestartsTheBudget() {
        var m = machine()
        m.sendFresh(to: 1, connect: false)
        _ = m.requestEnd(now: t0)
        #expect(m.busy() == .retryConnect(after: .milliseconds(1)))
        #expect(m.avoidedInstance(now: t0) == nil)  // a full queue is load, not a dead instance
        #expect(m.busy(after: .seconds(4)) == .retryConnect(after: .milliseconds(2)))
        // Then the instance died: another one gets its own 5 s and its own backoff.
        #expect(m.upstreamConnectFailed(busy: false, now: t0 + .seconds(4)) == .dispatch(avoiding: 1))
        m.instanceChosen(2, now: t0 + .seconds(4))
        #expect(m.busy(after: .seconds(6)) == .retryConnect(after: .milliseconds(1)))
        #expect(m.busy(after: .seconds(10)) == .retryConnect(after: .milliseconds(2)))
        #expect(m.busy(after: .seconds(11)) == .refuse(.midExchange(.upstreamUnreachable)))
        #expect(m.takeFinishedRecord()?.instance == 2)
    }

    @Test func theConnectBudgetIsConfigurable() {
        var timeouts = Machine.testTimeouts
        timeouts.connect = .milliseconds(10)
        var m = machine(timeouts)
        m.sendFresh(to: 1, connect: false)
        #expect(m.busy() == .retryConnect(after: .milliseconds(1)))
        #expect(m.busy(after: .milliseconds(9)) == .retryConnect(after: .milliseconds(2)))
        #expect(m.busy(after: .milliseconds(10)) == .refuse(.midExchange(.upstreamUnreachable)))
    }

    // MARK: resending a request whose instance died under it

    @Test func anIdempotentRequestIsResentOnceOnAnotherInstance() {
        var m = machine()
        m.send(.resendable)
        #expect(m.upstreamClosed(failure: .none, now: t0 + .seconds(1)) == .dispatch(avoiding: 1))
        #expect(m.avoidedInstance(now: t0 + .seconds(1)) == 1)
        #expect(!m.isUpstreamConnected)
        #expect(m.takeFinishedRecord() == nil)
        m.instanceChosen(2, now: t0 + .seconds(1))
        _ = m.upstreamConnected(expectsContinue: false, now: t0 + .seconds(1))
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .seconds(2)) == .forward(close: false))
        #expect(m.responseEnd(now: t0 + .seconds(2)) == .complete(closeDownstream: false, keepUpstream: true))
        let record = m.takeFinishedRecord()
        #expect(record?.retried == true)
        #expect(record?.instance == 2)
        #expect(record?.upstreamLatency == .seconds(1))  // the attempt that answered
    }

    @Test(arguments: [UpstreamInstance.Failure.none, .crashed])
    func aResentRequestIsNotResentTwice(failure: UpstreamInstance.Failure) {
        var m = machine()
        m.send(.resendable)
        _ = m.upstreamClosed(failure: failure, now: t0)
        m.instanceChosen(2, now: t0)
        _ = m.upstreamConnected(expectsContinue: false, now: t0)
        #expect(m.upstreamClosed(failure: failure, now: t0) == .refuse(.midExchange(.appCrashed)))
        let record = m.takeFinishedRecord()
        #expect(record?.status == 502)
        #expect(record?.refusal == .appCrashed)
        #expect(record?.retried == true)
        #expect(record?.instance == 2)
    }

    @Test(arguments: RequestShape.notResendable, [UpstreamInstance.Failure.none, .crashed])
    func onlyIdempotentBodylessFinishedRequestsAreResent(shape: RequestShape, failure: UpstreamInstance.Failure) {
        var m = machine()
        m.send(shape)
        #expect(m.upstreamClosed(failure: failure, now: t0) == .refuse(.midExchange(.appCrashed)))
        #expect(m.takeFinishedRecord()?.retried == false)
    }

    @Test func aKeptConnectionClosingIsResentWithoutAvoidanceUnlessItsInstanceCrashed() {
        // The app closed an idle kept connection as the request arrived (its keep-alive timeout): the instance
        // is fine and may well be the best choice again.
        var timedOut = machine()
        timedOut.send(.resendable, kept: 1)
        #expect(timedOut.upstreamClosed(failure: .none, now: t0) == .dispatch(avoiding: nil))
        #expect(timedOut.avoidedInstance(now: t0) == nil)
        // Waiting in the queue with nothing avoided: no avoidance tick either.
        #expect(timedOut.noInstanceReady(now: t0) == .wait)
        #expect(timedOut.tick(now: t0 + .seconds(2)) == .none)
        // The supervisor says the instance crashed: avoid it.
        var crashed = machine()
        crashed.send(.resendable, kept: 1)
        #expect(crashed.upstreamClosed(failure: .crashed, now: t0) == .dispatch(avoiding: 1))
        #expect(crashed.avoidedInstance(now: t0) == 1)
    }

    @Test(arguments: [nil, 1] as [Int?])
    func aHungInstanceGets504AndNoResend(kept: Int?) {
        var m = machine()
        m.send(.resendable, kept: kept)
        #expect(m.upstreamClosed(failure: .hung, now: t0) == .refuse(.midExchange(.appHung)))
        #expect(m.state == .idle(deadline: t0 + .seconds(60)))
        let record = m.takeFinishedRecord()
        #expect(record?.status == 504)
        #expect(record?.refusal == .appHung)
        #expect(record?.retried == false)
        #expect(record?.instance == 1)
    }

    @Test func aResentRequestWhoseSecondInstanceHangsGets504() {
        var m = machine()
        m.send(.resendable)
        _ = m.upstreamClosed(failure: .crashed, now: t0)
        m.instanceChosen(2, now: t0)
        _ = m.upstreamConnected(expectsContinue: false, now: t0)
        #expect(m.upstreamClosed(failure: .hung, now: t0) == .refuse(.midExchange(.appHung)))
    }

    @Test func aHungInstanceMidResponseJustClosesTheClient() {
        var m = machine()
        m.send(.resendable)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        m.responseHeadRelayed()
        _ = m.responseBody(count: 3, now: t0)
        #expect(m.upstreamClosed(failure: .hung, now: t0) == .close)  // the client has part of the answer
        #expect(m.takeFinishedRecord()?.status == 200)
    }

    /// A body-less GET is whole once its head is out, even when the codec's `.end` comes after the instance died:
    /// it is resent, and its end follows when it arrives.
    @Test func aBodylessRequestWhoseEndIsStillToComeIsResent() {
        var m = machine()
        m.send(RequestShape(idempotent: true, framing: .none, ends: false))
        #expect(!m.requestEnded)
        #expect(m.upstreamClosed(failure: .none, now: t0) == .dispatch(avoiding: 1))
        #expect(m.requestEnd(now: t0) == .forward)  // queued behind the head for the next connection
        #expect(m.requestEnded)
    }

    /// The handler holds the app's response head until its body arrives: an instance that dies between the two is
    /// as if it never answered (the request goes again, or feisty answers), since nothing reached the client.
    @Test func anInstanceDyingBetweenItsHeadAndItsBodyLeavesTheRequestResendable() {
        var m = machine()
        m.send(.resendable)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        #expect(m.upstreamClosed(failure: .none, now: t0 + .milliseconds(5)) == .dispatch(avoiding: 1))
        #expect(m.takeFinishedRecord() == nil)
        m.instanceChosen(2, now: t0 + .milliseconds(6))
        _ = m.upstreamConnected(expectsContinue: false, now: t0 + .milliseconds(6))
        #expect(
            m.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .milliseconds(9)) == .forward(close: false)
        )
        m.responseHeadRelayed()
        #expect(m.responseEnd(now: t0 + .milliseconds(9)) == .complete(closeDownstream: false, keepUpstream: true))
        let record = m.takeFinishedRecord()
        #expect(record?.retried == true && record?.instance == 2 && record?.status == 200)
        // A POST whose instance dies after its head: 502 (nothing was relayed, so feisty can still answer).
        var post = machine()
        post.send(RequestShape.notResendable[0])
        _ = post.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        #expect(post.upstreamClosed(failure: .none, now: t0) == .refuse(.midExchange(.appCrashed)))
    }

    @Test func aConnectionClosingWhileConnectingIsLeftToTheConnectFailure() {
        var m = machine()
        m.sendFresh(to: 1, idempotent: true, connect: false)
        _ = m.requestEnd(now: t0)
        #expect(m.upstreamClosed(failure: .crashed, now: t0) == .none)
        #expect(m.upstreamConnectFailed(busy: false, now: t0) == .dispatch(avoiding: 1))
        // Nothing was sent: the later resend budget is untouched.
        m.instanceChosen(2, now: t0)
        _ = m.upstreamConnected(expectsContinue: false, now: t0)
        #expect(m.upstreamClosed(failure: .none, now: t0) == .dispatch(avoiding: 2))
    }

    // MARK: the upstream deadline

    @Test func theUpstreamDeadlineCountsFromTheConnectNotFromAWaitInTheQueue() {
        var m = queued()  // ended at t0: the deadline would be t0 + 30 s if counted from the end
        m.instanceChosen(1, now: t0 + .seconds(29))
        #expect(m.tick(now: t0 + .seconds(30)) == .none)  // still connecting: no 504
        _ = m.upstreamConnected(expectsContinue: false, now: t0 + .seconds(31))
        #expect(m.tick(now: t0 + .seconds(32)) == .none)
        #expect(m.tick(now: t0 + .seconds(60)) == .none)
        #expect(m.tick(now: t0 + .seconds(61)) == .refuse(.midExchange(.upstreamTimeout)))
        #expect(m.takeFinishedRecord()?.refusal == .upstreamTimeout)
    }

    @Test func aQueuedRequestIsNeverTimedOutByTheUpstreamDeadline() {
        var timeouts = Machine.testTimeouts
        timeouts.upstream = .seconds(5)  // shorter than the queue timeout
        var m = machine(timeouts)
        _ = m.head()
        _ = m.noInstanceReady(now: t0)
        _ = m.requestEnd(now: t0)
        #expect(m.tick(now: t0 + .seconds(20)) == .none)  // waiting, not silent
        #expect(m.tick(now: t0 + .seconds(30)) == .refuse(.midExchange(.appUnavailable)))
    }

    @Test func theUpstreamDeadlineCountsFromTheResendsConnect() {
        var m = machine()
        m.send(.resendable)
        _ = m.upstreamClosed(failure: .none, now: t0 + .seconds(20))
        _ = m.noInstanceReady(now: t0 + .seconds(20))
        m.instanceChosen(2, now: t0 + .seconds(40))
        _ = m.upstreamConnected(expectsContinue: false, now: t0 + .seconds(40))
        #expect(m.tick(now: t0 + .seconds(69)) == .none)
        #expect(m.tick(now: t0 + .seconds(70)) == .refuse(.midExchange(.upstreamTimeout)))
    }

    @Test func theUpstreamDeadlineOfABodyCountsFromItsEnd() {
        var m = machine()
        m.sendFresh(to: 1, .forward(framing: .length(4)))
        // The client is still sending, slowly but within the body timeout: the app waits for it.
        for second in [25, 50, 75] {
            _ = m.requestBody(count: 1, now: t0 + .seconds(Int64(second)))
            #expect(m.tick(now: t0 + .seconds(Int64(second) + 20)) == .none)
        }
        _ = m.requestBody(count: 1, now: t0 + .seconds(100))
        _ = m.requestEnd(now: t0 + .seconds(100))
        #expect(m.tick(now: t0 + .seconds(129)) == .none)
        #expect(m.tick(now: t0 + .seconds(130)) == .refuse(.midExchange(.upstreamTimeout)))
    }
}
