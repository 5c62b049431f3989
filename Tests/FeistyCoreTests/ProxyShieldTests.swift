import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// Shielding the app from slow and odd clients: bodies received whole before an instance is chosen, stalled and
/// trickling bodies, clients that read nothing, and WebSocket handshakes becoming tunnels.
@Suite struct ProxyShieldTests {
    typealias Machine = ProxyConnectionStateMachine
    let t0 = proxyTestStart

    /// Test timeouts plus a 30 s body timeout, 100 B/s over 10 s, a 60 s send timeout.
    static let timeouts: Machine.Timeouts = {
        var timeouts = Machine.testTimeouts
        timeouts.body = .seconds(30)
        timeouts.minBodyRate = 100
        timeouts.bodyRateWindow = .seconds(10)
        timeouts.send = .seconds(60)
        return timeouts
    }()

    /// A connection buffering bodies up to 1000 bytes (the body-rate check off unless `rate`).
    func machine(buffer: Int64 = 1000, rate: Bool = false) -> Machine {
        var timeouts = Self.timeouts
        if !rate { timeouts.minBodyRate = 0 }
        return Machine(timeouts: timeouts, maxBodyBytes: nil, requestBufferBytes: buffer, now: t0)
    }

    // MARK: buffering

    @Test(
        arguments: [
            (RequestAdmission.Framing.length(10), true), (.length(1000), true), (.length(1001), false),
            (.chunked, true), (.none, false),
        ] as [(RequestAdmission.Framing, Bool)]
    )
    func aBodyUpToTheBufferIsReceivedWholeFirst(framing: RequestAdmission.Framing, buffered: Bool) {
        var m = machine()
        let action = m.head(.forward(framing: framing), expectsContinue: true)
        #expect(action == (buffered ? .buffer(sendContinue: true) : .dispatch))
        #expect(m.mayReadDownstream == buffered || framing == .none)
    }

    @Test func aBufferedBodyIsDispatchedAtItsEnd() {
        var m = machine()
        #expect(m.head(.forward(framing: .length(10)), kept: 3) == .buffer(sendContinue: false))  // kept: not used
        #expect(m.requestBody(count: 6, now: t0) == .forward)
        #expect(m.requestBody(count: 4, now: t0 + .seconds(1)) == .forward)
        #expect(m.mayReadDownstream)
        #expect(m.requestEnd(now: t0 + .seconds(1)) == .dispatch)
        m.instanceChosen(1, now: t0 + .seconds(1))
        #expect(m.upstreamConnected(expectsContinue: true, now: t0 + .seconds(1)) == .sendPending(sendContinue: false))
        #expect(m.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .seconds(2)) == .forward(close: false))
        #expect(m.responseEnd(now: t0 + .seconds(2)) == .complete(closeDownstream: false, keepUpstream: true))
        #expect(m.takeFinishedRecord()?.requestBytes == 10)
    }

    @Test func aChunkedBodyOutgrowingTheBufferStreamsFromThere() {
        var m = machine()
        #expect(m.head(.forward(framing: .chunked)) == .buffer(sendContinue: false))
        #expect(m.requestBody(count: 1000, now: t0) == .forward)
        #expect(m.requestBody(count: 1, now: t0) == .dispatch)
        #expect(!m.mayReadDownstream)  // until the app connection is up
        m.instanceChosen(1, now: t0)
        #expect(m.upstreamConnected(expectsContinue: false, now: t0) == .sendPending(sendContinue: false))
        #expect(m.mayReadDownstream)
        #expect(m.requestBody(count: 5000, now: t0) == .forward)
        #expect(m.requestEnd(now: t0) == .forward)
    }

    // MARK: slow bodies

    @Test func aStalledBodyIs408AndClosesWithoutReachingTheApp() {
        var m = machine()
        _ = m.head(.forward(framing: .length(100)))
        #expect(m.requestBody(count: 3, now: t0) == .forward)
        #expect(m.tick(now: t0 + .seconds(29)) == .none)
        #expect(
            m.tick(now: t0 + .seconds(30))
                == .refuse(.init(refusal: .requestBodyTimeout, closeUpstream: true, closeNow: true))
        )
        #expect(m.state == .closed)
        let record = m.takeFinishedRecord()
        #expect(record?.status == 408)
        #expect(record?.instance == nil)
    }

    @Test func aStreamedBodyStallingAtTheAppIs408Too() {
        var m = machine(buffer: 0)
        m.sendFresh(to: 1, .forward(framing: .length(100)))
        _ = m.requestBody(count: 50, now: t0 + .seconds(5))
        #expect(m.tick(now: t0 + .seconds(34)) == .none)
        #expect(
            m.tick(now: t0 + .seconds(35))
                == .refuse(.init(refusal: .requestBodyTimeout, closeUpstream: true, closeNow: true))
        )
    }

    @Test func aTricklingBodyIsCutAtTheEndOfARateWindow() {
        var m = machine(rate: true)
        _ = m.head(.forward(framing: .length(1000)))
        for second in 0..<9 {
            _ = m.requestBody(count: 10, now: t0 + .seconds(Int64(second)))  // 10 B/s, under 100 B/s
            #expect(m.tick(now: t0 + .seconds(Int64(second))) == .none)
        }
        #expect(
            m.tick(now: t0 + .seconds(10))
                == .refuse(.init(refusal: .requestBodyTimeout, closeUpstream: true, closeNow: true))
        )
    }

    @Test func aSteadyBodyPassesEveryWindow() {
        var m = machine(buffer: 1 << 20, rate: true)
        _ = m.head(.forward(framing: .length(1 << 20)))
        for second in 0..<40 {
            _ = m.requestBody(count: 200, now: t0 + .seconds(Int64(second)))
            #expect(m.tick(now: t0 + .seconds(Int64(second))) == .none)
        }
    }

    @Test func feistysOwnPausesStopTheBodyClocks() {
        var m = machine(buffer: 0)
        m.sendFresh(to: 1, .forward(framing: .length(100)))
        let paused = Machine.Flow(clientReadPaused: true)
        // The app reads slowly, feisty stops reading the client: no 408 however long.
        #expect(m.tick(now: t0 + .seconds(100), flow: paused) == .none)
        #expect(m.tick(now: t0 + .seconds(129)) == .none)
        #expect(m.tick(now: t0 + .seconds(130)) != .none)
    }

    @Test func aRefusedBodyThatStallsClosesTheConnection() {
        var m = machine()
        #expect(m.head(.refuse(.routeNotFound, framing: .length(10))) == .refuse(.atHead(.routeNotFound)))
        _ = m.requestBody(count: 3, now: t0 + .seconds(10))
        #expect(m.tick(now: t0 + .seconds(39)) == .none)
        #expect(m.tick(now: t0 + .seconds(40)) == .close)
    }

    // MARK: slow readers

    @Test func aClientThatReadsNothingIsCutAfterTheSendTimeout() {
        var m = machine()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        m.responseHeadRelayed()
        _ = m.responseBody(count: 5_000_000, now: t0)
        let stalled = Machine.Flow(appReadPaused: true, sendStalledSince: t0)
        #expect(m.tick(now: t0 + .seconds(59), flow: stalled) == .none)  // the app's silence is feisty's doing
        #expect(m.tick(now: t0 + .seconds(60), flow: stalled) == .abandon)
        #expect(m.takeFinishedRecord()?.responseBytes == 5_000_000)
    }

    @Test func aConnectionStillSendingItsLastAnswerIsNotIdle() {
        var m = machine()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        _ = m.responseEnd(now: t0)  // the app is done; a spilled answer still goes out
        let sending = Machine.Flow(sendStalledSince: t0 + .seconds(50))
        #expect(m.tick(now: t0 + .seconds(100), flow: sending) == .none)
        #expect(m.tick(now: t0 + .seconds(110), flow: sending) == .abandon)  // 60 s without progress
    }

    // MARK: upgrades

    @Test func anAcceptedWebSocketHandshakeBecomesATunnel() {
        var m = machine()
        let record = ExchangeRecord(
            client: "c",
            method: .GET,
            target: "/ws",
            verdict: .forward(rule: 2),
            receivedAt: t0
        )
        #expect(
            m.requestHead(
                record,
                decision: .forward(framing: .none),
                keepAlive: true,
                expectsContinue: false,
                keptInstance: nil,
                upgrade: true,
                now: t0
            ) == .dispatch
        )
        m.instanceChosen(4, now: t0)
        _ = m.upstreamConnected(expectsContinue: false, now: t0)
        _ = m.requestEnd(now: t0)
        #expect(m.responseHead(status: 101, upstreamKeepAlive: true, now: t0 + .seconds(1)) == .upgrade)
        #expect(m.state == .tunneling)
        #expect(m.takeFinishedRecord() == nil)
        let tunnel = m.takeTunnelRecord()
        #expect(tunnel?.status == 101)
        #expect(tunnel?.instance == 4)
        #expect(m.takeTunnelRecord() == nil)
        #expect(!m.acceptsRequestHead)
    }

    @Test func aSwitchNobodyAskedForIs502() {
        var m = machine()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        #expect(
            m.responseHead(status: 101, upstreamKeepAlive: true, now: t0)
                == .refuse(.midExchange(.upstreamUnreachable))
        )
    }

    @Test(
        arguments: [
            ([("Upgrade", "websocket"), ("Connection", "Upgrade")], UpgradeRequest.websocket(protocol: "websocket")),
            ([("upgrade", "WebSocket"), ("connection", "keep-alive, Upgrade")], .websocket(protocol: "WebSocket")),
            ([("Upgrade", "websocket")], .none),
            ([("Connection", "upgrade")], .none),
            ([("Upgrade", "h2c"), ("Connection", "Upgrade, HTTP2-Settings")], .other),
            ([("Upgrade", "websocket, h2c"), ("Connection", "upgrade")], .other),
            ([("Upgrade", "websocket"), ("Connection", "upgrade x")], .none),
            ([("Upgrade", "websocket"), ("Upgrade", "websocket"), ("Connection", "upgrade")], .other),
            ([], .none),
        ] as [([(String, String)], UpgradeRequest)]
    )
    func upgradesAreReadAsWerkzeugAndTheParserReadThem(fields: [(String, String)], expected: UpgradeRequest) {
        #expect(UpgradeRequest(HTTPHeaders(fields)) == expected)
    }
}
