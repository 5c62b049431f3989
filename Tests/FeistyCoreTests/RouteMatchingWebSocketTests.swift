import Testing

@testable import FeistyCore

/// WebSocket handshakes against `websocket=True` and plain rules. Every expectation is what Flask 3.1 /
/// Werkzeug 3.1 answered for the same app (`Map.bind_to_environ` on a request with `Connection: Upgrade` and
/// `Upgrade: websocket`, then `MapAdapter.match`).
@Suite struct RouteMatchingWebSocketTests {
    /// Flask's view of the app: `app.add_url_rule(..., websocket=True)` and friends, in this order.
    static let rules: [RouteRule] = {
        func ws(_ text: String, _ endpoint: String) -> RouteRule {
            var made = rule(text, endpoint)
            made.websocket = true
            return made
        }
        var loose = ws("/wsloose/", "wsloose")
        loose.strictSlashes = false
        var keep = ws("/k/x", "kx")
        keep.mergeSlashes = false
        var moved = ws("/wsmove/<int:n>", "wsmove")
        moved.redirectTo = "/ws"
        var old = rule("/wsold/<int:n>", "wsaliased")
        old.alias = true
        return [
            ws("/ws", "ws"),  // 0
            ws("/both", "both_ws"),  // 1
            rule("/both", "both_http"),  // 2
            ws("/mixed", "mixed_ws"),  // 3
            rule("/mixed", "mixed_post", methods: ["OPTIONS", "POST"]),  // 4: Flask adds OPTIONS
            rule("/plain", "plain"),  // 5
            ws("/wsdir/", "wsdir"),  // 6
            loose,  // 7
            rule("/httpdir/", "httpdir"),  // 8
            ws("/a/b", "ab"),  // 9
            keep,  // 10
            moved,  // 11
            ws("/wscanon/<int:n>", "wsaliased"),  // 12
            old,  // 13
            ws("/v/<int(max=5):n>", "v"),  // 14
        ]
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        var method: String
        var target: String
        var websocket: Bool
        var expected: RouteVerdict

        var testDescription: String { "\(websocket ? "WebSocket" : "plain") \(method) \(target)" }

        init(_ method: String, _ target: String, websocket: Bool, _ expected: RouteVerdict) {
            self.method = method
            self.target = target
            self.websocket = websocket
            self.expected = expected
        }

        /// Whether `gate` is what the gate answers for `expected`: a match forwards with its rule, a 404/405 is
        /// answered by feisty, and Werkzeug's redirects and `WebsocketMismatch` go on to the app (a redirect
        /// decided after the walk, `redirect_to` or an alias, still names the rule that matched).
        func gateAgrees(_ gate: RouteGateDecision) -> Bool {
            switch expected {
            case .match(_, let index, _): gate == .forward(rule: index)
            case .redirect: gate.forwards
            case .websocketMismatch: gate == .forward(rule: nil)
            case .notFound: gate == .notFound
            case .methodNotAllowed(let allowed): gate == .methodNotAllowed(allowed: allowed)
            case .badHost: gate == .badHost
            }
        }
    }

    static func matched(_ endpoint: String, _ index: Int, _ arguments: [(name: String, value: JSONValue)] = [])
        -> RouteVerdict
    {
        .match(endpoint: endpoint, ruleIndex: index, arguments: arguments)
    }

    static let wsMethods = ["GET", "HEAD", "OPTIONS"]

    static let cases: [Case] = [
        // A WebSocket-only rule: matched by handshakes, a mismatch for plain requests.
        Case("GET", "/ws", websocket: true, matched("ws", 0)),
        Case("HEAD", "/ws", websocket: true, matched("ws", 0)),
        Case("OPTIONS", "/ws", websocket: true, matched("ws", 0)),
        Case("GET", "/ws", websocket: false, .websocketMismatch),
        // 405 comes first: `have_match_for` is checked before `websocket_mismatch`, whatever the kind.
        Case("POST", "/ws", websocket: true, .methodNotAllowed(allowed: wsMethods)),
        Case("POST", "/ws", websocket: false, .methodNotAllowed(allowed: wsMethods)),
        // A plain rule asked with a handshake.
        Case("GET", "/plain", websocket: true, .websocketMismatch),
        Case("GET", "/plain", websocket: false, matched("plain", 5)),
        // Both kinds on one path: the request's kind picks the rule.
        Case("GET", "/both", websocket: true, matched("both_ws", 1)),
        Case("GET", "/both", websocket: false, matched("both_http", 2)),
        Case("POST", "/both", websocket: true, .methodNotAllowed(allowed: wsMethods)),
        // A WebSocket GET rule beside a plain POST rule: the plain GET is a 405 listing the POST rule's
        // methods only, though a GET rule exists (it is of the other kind).
        Case("GET", "/mixed", websocket: true, matched("mixed_ws", 3)),
        Case("GET", "/mixed", websocket: false, .methodNotAllowed(allowed: ["OPTIONS", "POST"])),
        Case("POST", "/mixed", websocket: false, matched("mixed_post", 4)),
        Case("POST", "/mixed", websocket: true, .methodNotAllowed(allowed: wsMethods)),
        // Strict slashes: the redirect needs a rule of the request's kind, and a handshake is sent to `ws://`.
        Case("GET", "/wsdir", websocket: true, .redirect(location: "ws://localhost/wsdir/")),
        Case("GET", "/wsdir?x=1", websocket: true, .redirect(location: "ws://localhost/wsdir/?x=1")),
        Case("GET", "/wsdir", websocket: false, .notFound),  // the slash check skips other kinds silently
        Case("GET", "/wsdir/", websocket: false, .websocketMismatch),
        Case("GET", "/wsloose", websocket: true, matched("wsloose", 7)),
        Case("GET", "/wsloose/", websocket: true, matched("wsloose", 7)),
        Case("GET", "/wsloose", websocket: false, .notFound),
        Case("GET", "/httpdir", websocket: false, .redirect(location: "http://localhost/httpdir/")),
        Case("GET", "/httpdir", websocket: true, .notFound),
        Case("GET", "/httpdir/", websocket: true, .websocketMismatch),
        // Merged slashes: the retry also collects the mismatch.
        Case("GET", "/a//b", websocket: true, .redirect(location: "ws://localhost/a/b")),
        Case("GET", "/a//b", websocket: false, .websocketMismatch),
        Case("GET", "/a/b", websocket: false, .websocketMismatch),
        Case("GET", "/k//x", websocket: true, .notFound),
        Case("GET", "/k/x", websocket: true, matched("kx", 10)),
        // `redirect_to` joins onto `ws://host/`; an alias redirect takes the scheme of the rule it builds.
        Case("GET", "/wsmove/3", websocket: true, .redirect(location: "ws://localhost/ws")),
        Case("GET", "/wsmove/3", websocket: false, .websocketMismatch),
        Case("GET", "/wsold/4", websocket: false, .redirect(location: "ws://localhost/wscanon/4")),
        Case("GET", "/wsold/4", websocket: true, .websocketMismatch),
        Case("GET", "/wscanon/4", websocket: true, matched("wsaliased", 12, [("n", .int(4))])),
        // `to_python` only runs for a rule of the request's kind: out of range is a 404 for a handshake, but
        // the plain request never converts and ends as a mismatch.
        Case("GET", "/v/3", websocket: true, matched("v", 14, [("n", .int(3))])),
        Case("GET", "/v/9", websocket: true, .notFound),
        Case("GET", "/v/9", websocket: false, .websocketMismatch),
        Case("GET", "/nope", websocket: true, .notFound),
    ]

    static let matcher = Result(catching: { try routeMatcher(rules) })

    @Test(arguments: cases)
    func matchAndGateAgreeWithWerkzeug(_ item: Case) throws {
        let matcher = try Self.matcher.get()
        #expect(matcher.match(method: item.method, target: item.target, websocket: item.websocket) == item.expected)
        let gate = matcher.gate(method: item.method, target: item.target, websocket: item.websocket)
        #expect(item.gateAgrees(gate), "gate: \(gate)")
        // A host the fast path does not take (a port) goes through the general path: same answers.
        let viaBinding = matcher.gate(
            method: item.method,
            target: item.target,
            host: "localhost:5000",
            websocket: item.websocket
        )
        #expect(viaBinding == gate)
    }

    @Test func theDefaultIsAPlainRequest() throws {
        let matcher = try Self.matcher.get()
        #expect(matcher.match(method: "GET", target: "/ws") == .websocketMismatch)
        #expect(matcher.gate(method: "GET", target: "/ws") == .forward(rule: nil))
        #expect(RouteVerdict.websocketMismatch.status == 400)
    }

    /// `(Connection values, Upgrade values, handshake?)`, one value per field line.
    @Test(
        arguments: [
            (["Upgrade"], ["websocket"], true),
            (["keep-alive, Upgrade"], ["WebSocket"], true),
            (["keep-alive", "upgrade"], ["websocket"], true),  // a token from any Connection line
            (["\tUPGRADE\u{0B},close"], ["WEBSOCKET"], true),  // str.strip() whitespace around a token
            ([",,upgrade,"], ["websocket"], true),
            (["Upgrade"], ["websocket", "websocket"], false),  // joined: "websocket,websocket"
            (["Upgrade"], [], false),
            ([], ["websocket"], false),
            (["Upgrade"], ["h2c"], false),
            (["Upgraded"], ["websocket"], false),
            (["up grade"], ["websocket"], false),
            (["Upgrade"], ["websocket "], false),  // Upgrade is compared whole, unstripped
            (["Upgrade"], ["websocket, h2c"], false),
            (["Upgrade"], [""], false),
            (["Upgrade\u{A0}"], ["websocket"], false),  // non-ASCII is never whitespace in the UTF-8 bytes
            (["Upgrade"], ["webs\u{17F}cket"], false),  // ſ lowers to s in Unicode, not in Latin-1
            (["keep-alive"], ["websocket"], false),
        ] as [([String], [String], Bool)]
    )
    func handshakeDetectionIsBindToEnvirons(connection: [String], upgrade: [String], handshake: Bool) {
        #expect(RouteMatcher.isWebSocketHandshake(connection: connection, upgrade: upgrade) == handshake)
    }

    @Test func verdictReportAndBatchSpeakWerkzeugsName() throws {
        #expect(VerdictReport.json(.websocketMismatch) == #"{"outcome": "websocket_mismatch", "status": 400}"#)
        #expect(VerdictReport.text(.websocketMismatch) == "400 websocket mismatch")
        let matcher = try Self.matcher.get()
        let batch = BatchMatch(matcher: matcher, defaultHost: "localhost", json: true)
        #expect(
            batch.answer(line: #"{"id": 1, "method": "GET", "path": "/ws"}"#)
                == #"{"id": 1, "outcome": "websocket_mismatch", "status": 400}"#
        )
        #expect(
            batch.answer(line: #"{"id": 2, "method": "GET", "path": "/ws", "websocket": true}"#)
                == #"{"id": 2, "outcome": "match", "status": 200, "endpoint": "ws", "args": {}}"#
        )
        let handshakes = BatchMatch(matcher: matcher, defaultHost: "localhost", defaultWebSocket: true, json: true)
        #expect(handshakes.answer(line: #"{"method": "GET", "path": "/plain"}"#).contains("websocket_mismatch"))
        #expect(
            handshakes.answer(line: #"{"method": "GET", "path": "/plain", "websocket": false}"#).contains(#""match""#)
        )
    }
}
