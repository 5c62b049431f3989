import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

@Suite struct ProxyPolicyTests {
    func head(
        _ method: HTTPMethod = .GET,
        _ uri: String = "/",
        _ headers: [(String, String)] = [],
        version: HTTPVersion = .http1_1,
        host: String? = "example.com"
    ) -> HTTPRequestHead {
        let fields = (host.map { [("Host", $0)] } ?? []) + headers
        return HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
    }

    let admission = RequestAdmission(maxHeaderBytes: 1024, maxBodyBytes: 100, forwardUnknown: false)
    let match = RouteGateDecision.forward(rule: 0)

    /// Each one a request-smuggling vector (RFC 9112 §6.1, §6.3).
    @Test(
        arguments: [
            [("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
            [("Content-Length", "3"), ("Content-Length", "4")],
            [("Content-Length", "3"), ("Content-Length", "3")],
            [("Content-Length", "3, 3")],
            [("Content-Length", "-1")],
            [("Content-Length", "0x10")],
            [("Content-Length", "")],
            [("Content-Length", "1234567890123456789")],
            [("Transfer-Encoding", "chunked, gzip")],
            [("Transfer-Encoding", "gzip")],
            [("Host", "other.example")],
        ] as [[(String, String)]]
    )
    func smugglingFramingsAreRefused(headers: [(String, String)]) {
        let decision = admission.decide(head: head(.POST, "/", headers), verdict: match)
        guard case .refuse(.malformedRequest, .none) = decision else {
            Issue.record("not refused: \(headers) -> \(decision)")
            return
        }
    }

    @Test func transferEncodingOnHTTP10IsRefused() {
        let te10 = head(.POST, "/", [("Transfer-Encoding", "chunked")], version: .http1_0)
        #expect(RequestAdmission.framing(of: te10) == .failure(HeadError("Transfer-Encoding on HTTP/1.0")))
        #expect(
            admission.decide(head: te10, verdict: match)
                == .refuse(.malformedRequest(reason: "Transfer-Encoding on HTTP/1.0"), framing: .none)
        )
    }

    @Test(
        arguments: [
            ([("Content-Length", "10")], .length(10)),
            ([("Content-Length", " 10")], .length(10)),
            ([("Content-Length", "0")], .none),
            ([("Transfer-Encoding", "CHUNKED")], .chunked),
            ([], .none),
        ] as [([(String, String)], RequestAdmission.Framing)]
    )
    func validFramingsAreForwarded(headers: [(String, String)], framing: RequestAdmission.Framing) {
        #expect(admission.decide(head: head(.POST, "/", headers), verdict: match) == .forward(framing: framing))
    }

    /// `gzip, chunked` would reach the app as plain `chunked` (the gzip coding silently dropped): 501, as nginx.
    @Test(arguments: ["gzip, chunked", "chunked, chunked", "identity, chunked"])
    func codingsBesideChunkedAreNotImplemented(coding: String) {
        #expect(
            admission.decide(head: head(.POST, "/", [("Transfer-Encoding", coding)]), verdict: match)
                == .refuse(.unsupportedTransferCoding(expected: "chunked alone"), framing: .none)
        )
    }

    /// RFC 9112 §3.2: HTTP/1.1 needs exactly one `Host`; HTTP/1.0 may go without.
    @Test func hostIsRequiredOnceInHTTP11() {
        #expect(
            admission.decide(head: head(host: nil), verdict: match)
                == .refuse(.malformedRequest(reason: "missing Host"), framing: .none)
        )
        #expect(admission.decide(head: head(version: .http1_0, host: nil), verdict: match) == .forward(framing: .none))
        #expect(
            admission.decide(head: head(.GET, "/", [("HOST", "b")], version: .http1_0), verdict: match)
                == .refuse(.malformedRequest(reason: "duplicated Host"), framing: .none)
        )
    }

    @Test func connectIsRefusedAndCloses() {
        let decision = admission.decide(head: head(.CONNECT, "example.com:443"), verdict: .notFound)
        #expect(decision == .refuse(.connectNotAllowed, framing: .none))
        #expect(ProxyRefusal.connectNotAllowed.status == .methodNotAllowed)
        #expect(ProxyRefusal.connectNotAllowed.closesConnection)
        let raw = ProxyRefusal.connectNotAllowed.rawResponse(allocator: ByteBufferAllocator())
        #expect(String(buffer: raw).hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(String(buffer: raw).contains("allow: \r\n"))
    }

    @Test func aWerkzeugRedirectIsForwardedToo() {
        // No rule matches as such, but the app answers the redirect itself.
        #expect(admission.decide(head: head(), verdict: .forward(rule: nil)) == .forward(framing: .none))
    }

    /// Werkzeug's `BadHost` is a 400 from feisty, with or without `--forward-unknown` and the guard's pass;
    /// a smuggling framing still comes first.
    @Test(arguments: [false, true])
    func aHostWerkzeugCannotBindIsA400(forwardUnknown: Bool) {
        let policy = RequestAdmission(maxHeaderBytes: 1024, maxBodyBytes: 100, forwardUnknown: forwardUnknown)
        let refusal = RequestAdmission.badHostRefusal
        #expect(refusal.status == .badRequest)
        #expect(policy.decide(head: head(host: "a..b"), verdict: .badHost) == .refuse(refusal, framing: .none))
        #expect(
            policy.decide(head: head(host: "a..b"), verdict: .badHost, forwardUndeclared: true)
                == .refuse(refusal, framing: .none)
        )
        #expect(
            policy.decide(head: head(.POST, "/", [("Content-Length", "5")], host: "a..b"), verdict: .badHost)
                == .refuse(refusal, framing: .length(5))
        )
        let smuggled = head(.POST, "/", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")], host: "a..b")
        if case .refuse(.malformedRequest(let reason), _) = policy.decide(head: smuggled, verdict: .badHost) {
            #expect(reason.contains("Content-Length"))
        } else {
            Issue.record("a smuggling framing is refused first")
        }
    }

    @Test func limitsAndTheGateRefuse() {
        let big = head(.GET, "/", [("X-Big", String(repeating: "a", count: 2000))])
        #expect(admission.decide(head: big, verdict: match) == .refuse(.headerTooLarge, framing: .none))
        #expect(admission.decide(head: head(), verdict: .notFound) == .refuse(.routeNotFound, framing: .none))
        #expect(
            admission.decide(head: head(.POST), verdict: .methodNotAllowed(allowed: ["GET", "HEAD"]))
                == .refuse(.methodNotAllowed(allowed: ["GET", "HEAD"]), framing: .none)
        )
        #expect(
            admission.decide(head: head(.POST, "/", [("Content-Length", "101")]), verdict: match)
                == .refuse(.bodyTooLarge, framing: .length(101))
        )
        #expect(
            admission.decide(head: head(.POST, "/", [("Content-Length", "100")]), verdict: match)
                == .forward(framing: .length(100))
        )
        // A chunked body's size is unknown here: the state machine counts it (413 when it grows too large).
        #expect(
            admission.decide(head: head(.POST, "/", [("Transfer-Encoding", "chunked")]), verdict: match)
                == .forward(framing: .chunked)
        )
        let open = RequestAdmission(maxHeaderBytes: 1024, maxBodyBytes: nil, forwardUnknown: true)
        #expect(open.decide(head: head(), verdict: .notFound) == .forward(framing: .none))
        #expect(
            open.decide(head: head(.POST), verdict: .methodNotAllowed(allowed: ["GET"])) == .forward(framing: .none)
        )
        #expect(
            open.decide(head: head(.POST, "/", [("Content-Length", "1000000")]), verdict: match)
                == .forward(framing: .length(1_000_000))
        )
        // Whether an instance is ready is no refusal any more: the request waits in the queue (ProxyDispatchTests).
    }

    /// Framing first (a smuggled request must not be judged further), then the head size, the gate, the body.
    @Test func theChecksRunInOrder() {
        let big = [("X-Big", String(repeating: "a", count: 2000))]
        let smuggled = [("Content-Length", "3"), ("Content-Length", "4")]
        #expect(
            admission.decide(head: head(.POST, "/", big + smuggled), verdict: .notFound)
                == .refuse(.malformedRequest(reason: "duplicated Content-Length"), framing: .none)
        )
        #expect(
            admission.decide(head: head(.POST, "/", big + [("Content-Length", "101")]), verdict: .notFound)
                == .refuse(.headerTooLarge, framing: .length(101))
        )
        #expect(
            admission.decide(head: head(.POST, "/", [("Content-Length", "101")]), verdict: .notFound)
                == .refuse(.routeNotFound, framing: .length(101))
        )
    }

    struct StatusCase: Sendable, CustomTestStringConvertible {
        var refusal: ProxyRefusal
        var status: UInt
        var closes: Bool
        var label: String

        var testDescription: String { label }
    }

    @Test(arguments: [
        StatusCase(refusal: .routeNotFound, status: 404, closes: false, label: "not_found"),
        StatusCase(
            refusal: .methodNotAllowed(allowed: ["GET"]),
            status: 405,
            closes: false,
            label: "method_not_allowed"
        ),
        StatusCase(refusal: .malformedRequest(reason: "x"), status: 400, closes: true, label: "malformed"),
        StatusCase(refusal: .headerTooLarge, status: 431, closes: true, label: "header_too_large"),
        StatusCase(refusal: .bodyTooLarge, status: 413, closes: true, label: "body_too_large"),
        StatusCase(refusal: .requestHeadTimeout, status: 408, closes: true, label: "head_timeout"),
        StatusCase(refusal: .appUnavailable, status: 503, closes: false, label: "app_unavailable"),
        StatusCase(refusal: .appCrashed, status: 502, closes: false, label: "app_crashed"),
        StatusCase(refusal: .appHung, status: 504, closes: false, label: "app_hung"),
        StatusCase(refusal: .upstreamUnreachable, status: 502, closes: false, label: "upstream_unreachable"),
        StatusCase(refusal: .upstreamTimeout, status: 504, closes: false, label: "upstream_timeout"),
    ])
    func statusesAreMappedInOnePlace(_ expected: StatusCase) {
        let refusal = expected.refusal
        #expect(refusal.status.code == expected.status)
        #expect(refusal.closesConnection == expected.closes)
        #expect(refusal.logLabel == expected.label)
        // The body starts with the status, so a person with curl sees why; the head announces its exact size.
        #expect(refusal.body.hasPrefix("\(expected.status) "))
        let head = refusal.responseHead(version: .http1_1, close: false)
        #expect(head.status.code == expected.status)
        #expect(head.headers["content-length"] == [String(refusal.body.utf8.count)])
    }

    @Test func refusalHeadsCarryTheirExtraFields() {
        let head405 = ProxyRefusal.methodNotAllowed(allowed: ["GET", "HEAD"]).responseHead(
            version: .http1_1,
            close: false
        )
        #expect(head405.headers["allow"] == ["GET, HEAD"])
        #expect(
            ProxyRefusal.appUnavailable.responseHead(version: .http1_1, close: false).headers["retry-after"]
                == ["1"]
        )
        #expect(ProxyRefusal.appCrashed.responseHead(version: .http1_1, close: false).headers["retry-after"] == [])
        #expect(ProxyRefusal.appHung.responseHead(version: .http1_1, close: true).headers["connection"] == ["close"])
        #expect(
            ProxyRefusal.routeNotFound.responseHead(version: .http1_0, close: false).headers["connection"] == [
                "keep-alive"
            ]
        )
        let raw = ProxyRefusal.requestHeadTimeout.rawResponse(allocator: ByteBufferAllocator())
        #expect(String(buffer: raw).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
    }

    @Test func hopByHopHeadersAreStrippedBothWays() {
        let rewriter = HeaderRewriter()
        let incoming = head(
            .GET,
            "/",
            [
                ("Host", "example.com"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"), ("Keep-Alive", "5"),
                ("Proxy-Connection", "x"), ("TE", "trailers"), ("Trailer", "x"), ("Upgrade", "websocket"),
                ("Expect", "100-continue"), ("Accept", "*/*"),
            ],
            version: .http1_0
        )
        let out = rewriter.upstreamRequest(incoming, peer: "192.0.2.7", peerTrusted: false)
        for name in ["connection", "x-secret", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"] {
            #expect(!out.headers.contains(name: name), "\(name) kept")
        }
        #expect(out.headers["accept"] == ["*/*"])
        #expect(out.version == .http1_1)
        var response = HTTPResponseHead(
            version: .http1_0,
            status: .ok,
            headers: HTTPHeaders([
                ("Connection", "close, X-Internal"), ("X-Internal", "1"), ("Content-Length", "2"), ("Keep-Alive", "x"),
            ])
        )
        response = rewriter.downstreamResponse(response, requestVersion: .http1_1, close: false)
        #expect(response.headers.map(\.name) == ["Content-Length"])
        #expect(response.version == .http1_1)
        let closing = rewriter.downstreamResponse(response, requestVersion: .http1_1, close: true)
        #expect(closing.headers["connection"] == ["close"])
    }

    @Test func connectionTokensNameFieldsButNeverFraming() {
        let rewriter = HeaderRewriter()
        let incoming = head(
            .POST,
            "/",
            [
                ("Host", "h"), ("Connection", " X-A ,close,, HOST, content-length\t"), ("x-a", "1"), ("Close", "2"),
                ("Content-Length", "3"), ("X-Kept", "4"), ("Connection", "X-B"), ("X-B", "5"),
            ],
            host: nil
        )
        let out = rewriter.upstreamRequest(incoming, peer: "192.0.2.7", peerTrusted: false)
        #expect(
            out.headers.map(\.name) == [
                "Host", "Content-Length", "X-Kept", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
            ]
        )
        // A head without hop-by-hop fields keeps its fields and their order.
        let plain = HTTPHeaders([("B", "1"), ("a", "2"), ("Content-Length", "0")])
        let response = rewriter.downstreamResponse(
            HTTPResponseHead(version: .http1_1, status: .ok, headers: plain),
            requestVersion: .http1_1,
            close: false
        )
        #expect(response.headers.map(\.name) == ["B", "a", "Content-Length"])
        // `^` and `~` are both token characters: only ASCII letters fold.
        let tilde = rewriter.downstreamResponse(
            HTTPResponseHead(
                version: .http1_1,
                status: .ok,
                headers: HTTPHeaders([("Connection", "x^y"), ("x~y", "1"), ("X^Y", "2")])
            ),
            requestVersion: .http1_1,
            close: false
        )
        #expect(tilde.headers.map(\.name) == ["x~y"])
    }

    @Test func forwardedHeadersFromAnUntrustedPeerAreReplaced() {
        let rewriter = HeaderRewriter()
        let spoofed = head(
            .GET,
            "/",
            [
                ("Host", "app.test:8080"), ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "evil"), ("Forwarded", "for=6.6.6.6"), ("X-Forwarded-Prefix", "/evil"),
            ]
        )
        let out = rewriter.upstreamRequest(spoofed, peer: "192.0.2.7", peerTrusted: false)
        #expect(out.headers["x-forwarded-for"] == ["192.0.2.7"])
        #expect(out.headers["x-forwarded-proto"] == ["http"])
        #expect(out.headers["x-forwarded-host"] == ["app.test:8080"])
        #expect(!out.headers.contains(name: "forwarded"))
        #expect(!out.headers.contains(name: "x-forwarded-prefix"))
        let plain = rewriter.upstreamRequest(head(.GET, "/", [("Host", "h")]), peer: "::1", peerTrusted: false)
        #expect(plain.headers["x-forwarded-for"] == ["::1"])
    }

    @Test func forwardedHeadersFromATrustedPeerAreAppendedTo() {
        let rewriter = HeaderRewriter()
        let viaProxy = head(
            .GET,
            "/",
            [
                ("Host", "h"), ("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "10.0.0.2"),
                ("X-Forwarded-Proto", "https"),
            ]
        )
        let out = rewriter.upstreamRequest(viaProxy, peer: "10.0.0.1", peerTrusted: true)
        #expect(out.headers["x-forwarded-for"] == ["203.0.113.9, 10.0.0.2, 10.0.0.1"])
        #expect(out.headers["x-forwarded-proto"] == ["https"])
        #expect(out.headers["x-forwarded-host"] == ["h"])
    }

    @Test func clientIsTheRightMostUntrustedAddress() throws {
        let identity = ClientIdentity(trustedProxies: [
            try IPNetwork(parsing: "10.0.0.0/8"), try IPNetwork(parsing: "2001:db8::/32"),
        ])
        #expect(identity.isTrusted(IPAddress("10.1.2.3")))
        #expect(identity.isTrusted(IPAddress("::ffff:10.1.2.3")))
        #expect(identity.isTrusted(IPAddress("2001:db8:1::5")))
        #expect(!identity.isTrusted(IPAddress("2001:db9::5")))
        #expect(!identity.isTrusted(IPAddress("192.0.2.1")))
        #expect(
            identity.client(peer: "192.0.2.1", peerTrusted: false, forwardedFor: ["1.1.1.1"], forwarded: [])
                == "192.0.2.1"
        )
        #expect(
            identity.client(
                peer: "10.0.0.1",
                peerTrusted: true,
                forwardedFor: ["6.6.6.6, 203.0.113.9", "10.0.0.7"],
                forwarded: []
            ) == "203.0.113.9"
        )
        #expect(
            identity.client(
                peer: "10.0.0.1",
                peerTrusted: true,
                forwardedFor: [],
                forwarded: [#"for=198.51.100.1;proto=https, for="[2001:db8::7]:4711""#]
            ) == "198.51.100.1"
        )
        #expect(
            identity.client(peer: "10.0.0.1", peerTrusted: true, forwardedFor: ["10.0.0.9"], forwarded: [])
                == "10.0.0.9"
        )
        #expect(identity.client(peer: "10.0.0.1", peerTrusted: true, forwardedFor: [], forwarded: []) == "10.0.0.1")
    }

    @Test func networksAndValuesParse() throws {
        #expect(try IPNetwork(parsing: "192.168.1.77/24").description == "192.168.1.0/24")
        #expect(try IPNetwork(parsing: "::1").contains(IPAddress("::1")!))
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1.2.3.256") == nil)
        #expect(IPAddress("1::2::3") == nil)
        #expect(IPAddress("::ffff:1.2.3.4") == IPAddress("1.2.3.4"))
        #expect(throws: ProxyError.invalidNetwork("10.0.0.0/33")) { try IPNetwork(parsing: "10.0.0.0/33") }
        #expect(throws: ProxyError.invalidNetwork("nope")) { try IPNetwork(parsing: "nope") }
        #expect(try ProxyValueParsing.size("10m") == 10 << 20)
        #expect(try ProxyValueParsing.size("1g") == 1 << 30)
        #expect(try ProxyValueParsing.size("16k") == 16384)
        #expect(try ProxyValueParsing.size("0") == nil)
        #expect(throws: ProxyError.invalidSize("ten")) { try ProxyValueParsing.size("ten") }
        #expect(try ProxyValueParsing.hostPort("[::1]:8080") == ("::1", 8080))
        #expect(try ProxyValueParsing.hostPort(":9000") == ("127.0.0.1", 9000))
        #expect(throws: ProxyError.invalidAddress("::1:80")) { try ProxyValueParsing.hostPort("::1:80") }
        #expect(throws: ProxyError.invalidAddress("h:99999")) { try ProxyValueParsing.hostPort("h:99999") }
        #expect(try ProxyValueParsing.seconds("0.5") == .milliseconds(500))
        #expect(try ProxyServer.resolve("unix:/run/app.sock") == SocketAddress(unixDomainSocketPath: "/run/app.sock"))
        #expect(try ProxyServer.resolve("127.0.0.1:8000") == SocketAddress(ipAddress: "127.0.0.1", port: 8000))
        #expect(throws: ProxyError.invalidUpstream("unix:")) { try ProxyServer.resolve("unix:") }
        #expect(throws: ProxyError.invalidUpstream("app.sock")) { try ProxyServer.resolve("app.sock") }
        let tooLong = "unix:/" + String(repeating: "x", count: 200)
        #expect(throws: ProxyError.invalidUpstream(tooLong)) { try ProxyServer.resolve(tooLong) }
    }

    @Test func headerNamesCompareCaseInsensitivelyInPlace() {
        #expect("Content-Length".equalsASCIICaseInsensitive("content-length"))
        #expect("X-FORWARDED-FOR".equalsASCIICaseInsensitive("x-forwarded-for"))
        #expect("100-Continue".equalsASCIICaseInsensitive("100-continue"))
        #expect(!"Content-Lengt".equalsASCIICaseInsensitive("content-length"))
        #expect(!"content-lengthx".equalsASCIICaseInsensitive("content-length"))
        // Folding bit 0x20 applies to letters only: '[' | 0x20 is '{', which must not match.
        #expect(!"ho[t".equalsASCIICaseInsensitive("ho{t"))
        #expect(!"content\rlength".equalsASCIICaseInsensitive("content-length"))
        #expect("TE".equalsASCIICaseInsensitive("te") && !"TÉ".equalsASCIICaseInsensitive("te"))
    }
}
