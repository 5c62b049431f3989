import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// The one `ExchangeRecord` per exchange that every traffic observer reads: its contents, and that each exchange
/// yields exactly one, whatever way it ends.
@Suite struct ProxyExchangeRecordTests {
    typealias Machine = ProxyConnectionStateMachine
    let t0 = proxyTestStart

    // MARK: contents

    @Test func anAnsweredExchangeRecordsItsRouteInstanceSizesAndTimes() throws {
        var m = Machine.test()
        _ = m.head(.forward(framing: .chunked), verdict: .forward(rule: 3), target: "/items/7")
        #expect(m.noInstanceReady(now: t0) == .wait)
        m.instanceChosen(2, now: t0 + .milliseconds(10))
        _ = m.upstreamConnected(expectsContinue: false, now: t0 + .milliseconds(11))
        _ = m.requestBody(count: 3, now: t0 + .milliseconds(12))
        _ = m.requestBody(count: 4, now: t0 + .milliseconds(12))
        _ = m.requestEnd(now: t0 + .milliseconds(12))
        _ = m.responseHead(status: 201, upstreamKeepAlive: true, now: t0 + .milliseconds(25))
        _ = m.responseBody(count: 5, now: t0 + .milliseconds(26))
        _ = m.responseBody(count: 6, now: t0 + .milliseconds(27))
        #expect(m.takeFinishedRecord() == nil)  // not before the response ended
        _ = m.responseEnd(now: t0 + .milliseconds(30))
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.client == "192.0.2.7")
        #expect(record.method == .POST)
        #expect(record.target == "/items/7")
        #expect(record.verdict == .forward(rule: 3))
        #expect(record.rule == 3)
        #expect(record.instance == 2)
        #expect(record.status == 201)
        #expect(record.refusal == nil)
        #expect(record.requestBytes == 7)
        #expect(record.responseBytes == 11)
        #expect(record.receivedAt == t0)
        #expect(record.forwardedAt == t0 + .milliseconds(10))
        #expect(record.respondedAt == t0 + .milliseconds(25))
        #expect(record.endedAt == t0 + .milliseconds(30))
        #expect(record.upstreamLatency == .milliseconds(15))
        #expect(record.timeToFirstByte == .milliseconds(25))
        #expect(!record.retried)
        #expect(m.takeFinishedRecord() == nil)  // once
    }

    @Test func aKeptConnectionForwardsAtTheHead() throws {
        var m = Machine.test()
        _ = m.head(kept: 4, idempotent: true, at: t0 + .seconds(1))
        _ = m.requestEnd(now: t0 + .seconds(1))
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0 + .milliseconds(1002))
        _ = m.responseEnd(now: t0 + .milliseconds(1002))
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.instance == 4)
        #expect(record.method == .GET)
        #expect(record.forwardedAt == t0 + .seconds(1))
        #expect(record.upstreamLatency == .milliseconds(2))
    }

    /// Feisty's own answers: the status and body size of the refusal, no app latency.
    @Test(arguments: [
        (ProxyRefusal.routeNotFound, RouteGateDecision.notFound),
        (.methodNotAllowed(allowed: ["GET"]), .methodNotAllowed(allowed: ["GET"])),
        (.bodyTooLarge, .forward(rule: 1)),
        (.headerTooLarge, .forward(rule: nil)),
    ])
    func aRefusedHeadRecordsTheRefusal(refusal: ProxyRefusal, verdict: RouteGateDecision) throws {
        var m = Machine.test()
        _ = m.head(.refuse(refusal, framing: .none), verdict: verdict, at: t0 + .seconds(2))
        let taken = m.takeFinishedRecord()  // at once: the answer goes out now
        let record = try #require(taken)
        #expect(record.refusal == refusal)
        #expect(record.status == refusal.status.code)
        #expect(record.responseBytes == Int64(refusal.body.utf8.count))
        #expect(record.verdict == verdict)
        #expect(record.instance == nil)
        #expect(record.upstreamLatency == nil)
        #expect(record.timeToFirstByte == nil)
        #expect(record.endedAt == t0 + .seconds(2))
        _ = m.requestEnd(now: t0 + .seconds(2))
        #expect(m.takeFinishedRecord() == nil)
    }

    @Test(
        arguments: [
            (RouteGateDecision.forward(rule: 0), 0), (.forward(rule: 12), 12), (.forward(rule: nil), nil),
            (.notFound, nil), (.methodNotAllowed(allowed: ["POST"]), nil), (nil, nil),
        ] as [(RouteGateDecision?, Int?)]
    )
    func theRuleComesFromTheForwardVerdict(verdict: RouteGateDecision?, rule: Int?) {
        let record = ExchangeRecord(client: "c", method: .GET, target: "/", verdict: verdict, receivedAt: t0)
        #expect(record.rule == rule)
    }

    @Test func latenciesNeedBothEnds() {
        var record = ExchangeRecord(client: "c", method: .GET, target: "/", verdict: nil, receivedAt: t0)
        #expect(record.upstreamLatency == nil)
        #expect(record.timeToFirstByte == nil)
        record.forwardedAt = t0 + .milliseconds(5)
        #expect(record.upstreamLatency == nil)  // the app has not answered
        record.respondedAt = t0 + .milliseconds(8)
        #expect(record.upstreamLatency == .milliseconds(3))
        #expect(record.timeToFirstByte == .milliseconds(8))
    }

    @Test func aTimedOutExchangeRecordsTheInstanceAndTheRefusal() throws {
        var m = Machine.test()
        m.sendFresh(to: 3, idempotent: true)
        _ = m.requestEnd(now: t0)
        _ = m.tick(now: t0 + .seconds(30))
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.instance == 3)
        #expect(record.status == 504)
        #expect(record.refusal == .upstreamTimeout)
        #expect(record.responseBytes == Int64(ProxyRefusal.upstreamTimeout.body.utf8.count))
        #expect(record.respondedAt == nil)  // feisty answered, not the app
        #expect(record.endedAt == t0 + .seconds(30))
    }

    @Test func aCutResponseRecordsWhatWasRelayed() throws {
        var m = Machine.test()
        m.sendFresh(to: 1)
        _ = m.requestEnd(now: t0)
        _ = m.responseHead(status: 200, upstreamKeepAlive: true, now: t0)
        m.responseHeadRelayed()
        _ = m.responseBody(count: 100, now: t0)
        _ = m.upstreamClosed(failure: .crashed, now: t0 + .seconds(1))
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.status == 200)
        #expect(record.refusal == nil)
        #expect(record.responseBytes == 100)
        #expect(record.endedAt == t0 + .seconds(1))
    }

    @Test func aBodyOverTheLimitCountsTheBytesReceived() throws {
        var m = Machine.test(maxBody: 10)
        m.sendFresh(to: 1, .forward(framing: .chunked))
        _ = m.requestBody(count: 8, now: t0)
        _ = m.requestBody(count: 8, now: t0)
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.refusal == .bodyTooLarge)
        #expect(record.status == 413)
        #expect(record.requestBytes == 16)
    }

    @Test func anUnparsableHeadRecordsTheRefusalWithoutAVerdict() throws {
        var m = Machine.test()
        m.bytesArrived(now: t0)
        _ = m.parseError(.headerTooLarge, unparsed: .unparsed(at: t0 + .seconds(1)), now: t0 + .seconds(1))
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.verdict == nil)
        #expect(record.refusal == .headerTooLarge)
        #expect(record.status == 431)
        #expect(record.target == "-")
    }

    @Test func aParseErrorMidRequestRecordsItOnTheExchangeInProgress() throws {
        var m = Machine.test()
        m.sendFresh(to: 2, .forward(framing: .chunked))
        _ = m.parseError(.malformedRequest(reason: "bad chunk"), unparsed: .unparsed(), now: t0)
        let taken = m.takeFinishedRecord()
        let record = try #require(taken)
        #expect(record.refusal == .malformedRequest(reason: "bad chunk"))
        #expect(record.status == 400)
        #expect(record.instance == 2)
        #expect(record.method == .POST)  // the exchange's own record, not the placeholder
    }

    /// The 408 the tick answers for a head that never completes ends in a record the handler starts (only the
    /// client is known), like an unparsable head's 400 or 431.
    @Test func aHeadTimeoutEndsInARecord() {
        var m = Machine.test()
        m.bytesArrived(now: t0)
        #expect(m.tick(now: t0 + .seconds(10)) == .refuseAtEdgeAndClose(.requestHeadTimeout))
        #expect(m.takeFinishedRecord() == nil)
        let unparsed = ExchangeRecord(
            client: "192.0.2.1",
            method: .RAW(value: "-"),
            target: "-",
            verdict: nil,
            receivedAt: t0
        )
        m.finishUnparsed(unparsed, refusal: .requestHeadTimeout, now: t0 + .seconds(10))
        let record = m.takeFinishedRecord()
        #expect(record?.refusal == .requestHeadTimeout && record?.status == 408 && record?.client == "192.0.2.1")
        #expect(m.takeFinishedRecord() == nil)
    }

    // MARK: exactly one per exchange

    @Test(arguments: RecordScenario.all)
    func everyExchangeEndsInExactlyOneRecord(scenario: RecordScenario) {
        let records = scenario.run()
        #expect(records.map(\.status) == scenario.statuses)
        // In request order, each with its end time.
        #expect(records.map(\.target) == scenario.statuses.indices.map { "/\($0)" })
        #expect(records.allSatisfy { $0.endedAt != nil })
    }

    /// A parse error in the body an early response left to discard finishes that exchange a second time.
    @Test func aParseErrorWhileDiscardingAfterAnEarlyResponseAddsNoRecord() {
        let scenario = RecordScenario(
            "early response, then a malformed chunk",
            [
                .head(.forward(framing: .chunked)), .chosen(1), .connected, .body(10), .responseHead(413),
                .responseEnd, .parseError,
            ],
            statuses: [413]
        )
        #expect(scenario.run().map(\.status) == scenario.statuses)
    }
}

/// One event of a connection's life, in the vocabulary of the scenario tables (the machine's inputs, with the
/// tests' defaults).
enum ProxyEvent: Sendable {
    case head(RequestAdmission.Decision = .forward(framing: .none), kept: Int? = nil, keepAlive: Bool = true)
    case chosen(Int)
    case noInstance(queueFull: Bool = false)
    case connected
    case connectFailed(busy: Bool)
    case body(Int)
    case end
    case responseHead(UInt)
    case responseBody(Int)
    case responseEnd
    case upstreamClosed(UpstreamInstance.Failure)
    /// The clock moves on by the amount, then the tick runs.
    case tick(TimeAmount)
    case parseError
    case downstreamClosed
    case quiesce
}

/// A connection's events and the status of each exchange's record, in order.
struct RecordScenario: Sendable, CustomTestStringConvertible {
    var name: String
    var events: [ProxyEvent]
    var statuses: [UInt]

    init(_ name: String, _ events: [ProxyEvent], statuses: [UInt]) {
        self.name = name
        self.events = events
        self.statuses = statuses
    }

    var testDescription: String { name }

    /// Feeds the events to a machine (body limit 100) and takes the finished record after each, as the handler
    /// does; a second take must find nothing. Each head gets the target `/n`, n counting from 0.
    func run() -> [ExchangeRecord] {
        var m = ProxyConnectionStateMachine.test(maxBody: 100)
        var now = proxyTestStart
        var heads = 0
        var records: [ExchangeRecord] = []
        for event in events {
            switch event {
            case .head(let decision, let kept, let keepAlive):
                m.bytesArrived(now: now)
                let target = "/\(heads)"
                heads += 1
                _ = m.head(decision, keepAlive: keepAlive, kept: kept, idempotent: true, target: target, at: now)
            case .chosen(let instance): m.instanceChosen(instance, now: now)
            case .noInstance(let queueFull): _ = m.noInstanceReady(queueFull: queueFull, now: now)
            case .connected: _ = m.upstreamConnected(expectsContinue: false, now: now)
            case .connectFailed(let busy): _ = m.upstreamConnectFailed(busy: busy, now: now)
            case .body(let count): _ = m.requestBody(count: count, now: now)
            case .end: _ = m.requestEnd(now: now)
            case .responseHead(let status):
                // As the handler does once the first body part or the end arrives: the head goes out.
                _ = m.responseHead(status: status, upstreamKeepAlive: true, now: now)
                m.responseHeadRelayed()
            case .responseBody(let count): _ = m.responseBody(count: count, now: now)
            case .responseEnd: _ = m.responseEnd(now: now)
            case .upstreamClosed(let failure): _ = m.upstreamClosed(failure: failure, now: now)
            case .tick(let elapsed):
                now = now + elapsed
                _ = m.tick(now: now)
            case .parseError: _ = m.parseError(.malformedRequest(reason: "x"), unparsed: .unparsed(at: now), now: now)
            case .downstreamClosed: m.downstreamClosed(now: now)
            case .quiesce: _ = m.quiesce()
            }
            if let record = m.takeFinishedRecord() {
                records.append(record)
                #expect(m.takeFinishedRecord() == nil, "taken twice after \(event)")
            }
        }
        return records
    }

    /// A request the app answers on a fresh connection to instance 1.
    static let answered: [ProxyEvent] = [
        .head(), .chosen(1), .connected, .end, .responseHead(200), .responseBody(5), .responseEnd,
    ]

    static let all: [RecordScenario] = [
        RecordScenario("answered", answered, statuses: [200]),
        RecordScenario(
            "two exchanges on one connection",
            answered + [.head(kept: 1), .end, .responseHead(204), .responseEnd],
            statuses: [200, 204]
        ),
        RecordScenario("answered, then idle timeout", answered + [.tick(.seconds(60))], statuses: [200]),
        RecordScenario("answered, then the client leaves", answered + [.downstreamClosed], statuses: [200]),
        RecordScenario(
            "answered, then the app connection closes",
            answered + [.upstreamClosed(.none)],
            statuses: [200]
        ),
        RecordScenario(
            "refused, drained, then the next request",
            [.head(.refuse(.routeNotFound, framing: .length(3))), .body(3), .end] + answered,
            statuses: [404, 200]
        ),
        RecordScenario(
            "refused, then the client leaves mid-body",
            [.head(.refuse(.routeNotFound, framing: .length(3))), .tick(.seconds(3)), .downstreamClosed],
            statuses: [404]
        ),
        RecordScenario("queue timeout", [.head(), .noInstance(), .end, .tick(.seconds(30))], statuses: [503]),
        RecordScenario("queue full", [.head(), .noInstance(queueFull: true), .end], statuses: [503]),
        RecordScenario(
            "queued, then answered",
            [
                .head(), .noInstance(), .end, .tick(.seconds(5)), .chosen(1), .connected, .responseHead(200),
                .responseEnd,
            ],
            statuses: [200]
        ),
        RecordScenario(
            "the client leaves the queue",
            [.head(), .noInstance(), .end, .downstreamClosed],
            statuses: [0]
        ),
        RecordScenario(
            "connect refused, then answered elsewhere",
            [
                .head(), .chosen(1), .end, .connectFailed(busy: false), .chosen(2), .connected, .responseHead(200),
                .responseEnd,
            ],
            statuses: [200]
        ),
        RecordScenario(
            "connect refused by every instance",
            [.head(), .end]
                + (1...ProxyConnectionStateMachine.maximumRedispatches + 1).flatMap {
                    [ProxyEvent.chosen($0), .connectFailed(busy: false)]
                },
            statuses: [502]
        ),
        RecordScenario(
            "listen queue full for too long",
            [.head(), .chosen(1), .end, .connectFailed(busy: true), .tick(.seconds(5)), .connectFailed(busy: true)],
            statuses: [502]
        ),
        RecordScenario(
            "resent, then answered",
            [.head(kept: 1), .end, .upstreamClosed(.none), .chosen(2), .connected, .responseHead(200), .responseEnd],
            statuses: [200]
        ),
        RecordScenario(
            "resent, then crashed again",
            [
                .head(), .chosen(1), .connected, .end, .upstreamClosed(.crashed), .chosen(2), .connected,
                .upstreamClosed(.crashed),
            ],
            statuses: [502]
        ),
        RecordScenario("hung", [.head(kept: 1), .end, .upstreamClosed(.hung)], statuses: [504]),
        RecordScenario("silent app", [.head(kept: 1), .end, .tick(.seconds(30))], statuses: [504]),
        RecordScenario(
            "silent mid-response",
            [.head(kept: 1), .end, .responseHead(200), .tick(.seconds(30))],
            statuses: [200]
        ),
        RecordScenario(
            "cut response",
            [.head(kept: 1), .end, .responseHead(200), .responseBody(3), .upstreamClosed(.crashed)],
            statuses: [200]
        ),
        RecordScenario(
            "the client leaves before the answer",
            [.head(kept: 1), .end, .downstreamClosed],
            statuses: [0]
        ),
        RecordScenario(
            "early response, lingering ends",
            [
                .head(.forward(framing: .length(1000)), kept: 1), .body(10), .responseHead(413), .responseEnd,
                .body(10), .tick(.seconds(2)), .downstreamClosed,
            ],
            statuses: [413]
        ),
        RecordScenario(
            "early response, then the client leaves mid-body",
            [
                .head(.forward(framing: .length(1000)), kept: 1), .body(10), .responseHead(413), .responseEnd,
                .downstreamClosed,
            ],
            statuses: [413]
        ),
        RecordScenario(
            "early response, the client finishes its body",
            [
                .head(.forward(framing: .length(20)), kept: 1), .body(10), .responseHead(413), .responseEnd, .body(10),
                .end,
            ],
            statuses: [413]
        ),
        RecordScenario(
            "body over the limit before the answer",
            [.head(.forward(framing: .chunked), kept: 1), .body(60), .body(60), .body(60), .end],
            statuses: [413]
        ),
        RecordScenario(
            "body over the limit after the answer began",
            [.head(.forward(framing: .chunked), kept: 1), .responseHead(200), .body(200), .downstreamClosed],
            statuses: [200]
        ),
        RecordScenario("an idle connection closes: no exchange, no record", [.tick(.seconds(60))], statuses: []),
        RecordScenario(
            "parse error before the answer",
            [.head(.forward(framing: .chunked), kept: 1), .parseError, .downstreamClosed],
            statuses: [400]
        ),
        RecordScenario(
            "parse error while streaming",
            [.head(.forward(framing: .chunked), kept: 1), .responseHead(200), .parseError, .downstreamClosed],
            statuses: [200]
        ),
        RecordScenario(
            "quiesced mid-exchange",
            [.head(kept: 1), .quiesce, .end, .responseHead(200), .responseEnd, .downstreamClosed],
            statuses: [200]
        ),
    ]
}
