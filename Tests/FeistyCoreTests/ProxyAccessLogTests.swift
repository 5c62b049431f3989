import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

/// The access log's line: `client method target verdict status bytes upstream_ms instance`, `-` where the app was
/// not asked; the verdict column also names feisty's own answer and a resend.
@Suite struct ProxyAccessLogTests {
    struct LineCase: Sendable, CustomTestStringConvertible {
        var name: String
        var record: ExchangeRecord
        var line: String

        var testDescription: String { name }

        /// A record as the state machine leaves it; `latency` is from the dispatch to the app's response head.
        init(
            _ name: String,
            client: String = "127.0.0.1",
            method: HTTPMethod = .GET,
            target: String = "/",
            verdict: RouteGateDecision? = .forward(rule: 0),
            instance: Int? = nil,
            status: UInt,
            refusal: ProxyRefusal? = nil,
            bytes: Int64 = 0,
            latency: TimeAmount? = nil,
            retried: Bool = false,
            line: String
        ) {
            let start = proxyTestStart
            var record = ExchangeRecord(
                client: client,
                method: method,
                target: target,
                verdict: verdict,
                receivedAt: start
            )
            record.instance = instance
            record.status = status
            record.refusal = refusal
            record.responseBytes = bytes
            record.retried = retried
            if instance != nil { record.forwardedAt = start + .milliseconds(7) }  // after queueing: not counted
            if let latency { record.respondedAt = start + .milliseconds(7) + latency }
            record.endedAt = start + .seconds(1)
            self.name = name
            self.record = record
            self.line = line
        }
    }

    static let lineCases: [LineCase] = [
        LineCase(
            "answered",
            target: "/2024",
            instance: 1,
            status: 200,
            bytes: 4,
            latency: .microseconds(1300),
            line: "127.0.0.1 GET /2024 forward 200 4 1.3ms i1"
        ),
        LineCase(
            "a Werkzeug redirect (no rule) answered by the app",
            target: "/users",
            verdict: .forward(rule: nil),
            instance: 2,
            status: 308,
            latency: .microseconds(250),
            line: "127.0.0.1 GET /users forward 308 0 0.3ms i2"  // half a tenth rounds up
        ),
        LineCase(
            "latency under a twentieth of a millisecond",
            instance: 1,
            status: 204,
            latency: .microseconds(40),
            line: "127.0.0.1 GET / forward 204 0 0.0ms i1"
        ),
        LineCase(
            "rounding carries into the integer part",
            instance: 1,
            status: 200,
            latency: .microseconds(999_960),
            line: "127.0.0.1 GET / forward 200 0 1000.0ms i1"
        ),
        LineCase(
            "seconds stay in milliseconds",
            method: .POST,
            target: "/upload?x=1",
            instance: 3,
            status: 201,
            bytes: 1_048_576,
            latency: .milliseconds(12_345),
            line: "127.0.0.1 POST /upload?x=1 forward 201 1048576 12345.0ms i3"
        ),
        LineCase(
            "an --upstream server is instance 0; IPv6 client",
            client: "::1",
            method: .HEAD,
            instance: 0,
            status: 200,
            latency: .microseconds(100),
            line: "::1 HEAD / forward 200 0 0.1ms i0"
        ),
        LineCase(
            "refused by the gate: the verdict says it already",
            client: "203.0.113.9",
            target: "/missing",
            verdict: .notFound,
            status: 404,
            refusal: .routeNotFound,
            bytes: 14,
            line: "203.0.113.9 GET /missing not_found 404 14 - -"
        ),
        LineCase(
            "method refused by the gate",
            method: .DELETE,
            verdict: .methodNotAllowed(allowed: ["GET", "HEAD"]),
            status: 405,
            refusal: .methodNotAllowed(allowed: ["GET", "HEAD"]),
            bytes: 23,
            line: "127.0.0.1 DELETE / method_not_allowed 405 23 - -"
        ),
        LineCase(
            "unknown route forwarded anyway (--forward-unknown): the app's own 404",
            target: "/nope",
            verdict: .notFound,
            instance: 2,
            status: 404,
            bytes: 9,
            latency: .milliseconds(2),
            line: "127.0.0.1 GET /nope not_found 404 9 2.0ms i2"
        ),
        LineCase(
            "the app was silent",
            instance: 3,
            status: 504,
            refusal: .upstreamTimeout,
            bytes: 20,
            line: "127.0.0.1 GET / forward,upstream_timeout 504 20 - i3"
        ),
        LineCase(
            "no instance became ready",
            status: 503,
            refusal: .appUnavailable,
            bytes: 70,
            line: "127.0.0.1 GET / forward,app_unavailable 503 70 - -"
        ),
        LineCase(
            "the instance hung",
            instance: 1,
            status: 504,
            refusal: .appHung,
            bytes: 88,
            line: "127.0.0.1 GET / forward,app_hung 504 88 - i1"
        ),
        LineCase(
            "refused connections everywhere",
            method: .POST,
            instance: 2,
            status: 502,
            refusal: .upstreamUnreachable,
            bytes: 16,
            line: "127.0.0.1 POST / forward,upstream_unreachable 502 16 - i2"
        ),
        LineCase(
            "body over the limit",
            method: .PUT,
            status: 413,
            refusal: .bodyTooLarge,
            bytes: 22,
            line: "127.0.0.1 PUT / forward,body_too_large 413 22 - -"
        ),
        LineCase(
            "resent and answered",
            instance: 2,
            status: 200,
            bytes: 2,
            latency: .microseconds(800),
            retried: true,
            line: "127.0.0.1 GET / forward,retried 200 2 0.8ms i2"
        ),
        LineCase(
            "resent and crashed again",
            instance: 2,
            status: 502,
            refusal: .appCrashed,
            bytes: 60,
            retried: true,
            line: "127.0.0.1 GET / forward,app_crashed,retried 502 60 - i2"
        ),
        LineCase(
            "the client left before the answer",
            instance: 1,
            status: 0,
            line: "127.0.0.1 GET / forward 0 0 - i1"
        ),
        LineCase(
            "a head that never parsed",
            client: "192.0.2.7",
            method: .RAW(value: "-"),
            target: "-",
            verdict: nil,
            status: 400,
            refusal: .malformedRequest(reason: "unparseable request"),
            bytes: 40,
            line: "192.0.2.7 - - malformed 400 40 - -"
        ),
        LineCase(
            "a head too large to parse",
            method: .RAW(value: "-"),
            target: "-",
            verdict: nil,
            status: 431,
            refusal: .headerTooLarge,
            bytes: 36,
            line: "127.0.0.1 - - header_too_large 431 36 - -"
        ),
    ]

    @Test(arguments: ProxyAccessLogTests.lineCases)
    func line(_ testCase: LineCase) {
        #expect(AccessLogObserver.line(testCase.record) == testCase.line)
    }

    @Test(
        arguments: [
            (RouteGateDecision.forward(rule: 4), "forward"), (.forward(rule: nil), "forward"), (.notFound, "not_found"),
            (.methodNotAllowed(allowed: ["GET"]), "method_not_allowed"), (nil, "-"),
        ] as [(RouteGateDecision?, String)]
    )
    func verdictLabel(decision: RouteGateDecision?, label: String) {
        #expect(AccessLogObserver.label(decision) == label)
    }
}
