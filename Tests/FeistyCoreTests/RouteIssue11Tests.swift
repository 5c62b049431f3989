import Foundation
import Testing

@testable import FeistyCore

/// Issue 11's three disagreements with Werkzeug: which characters are digits (the app's interpreter decides),
/// `redirect_to` targets with `;params` (`urljoin`), and hosts `Map.bind` cannot IDNA-encode (`BadHost`, 400).
@Suite struct RouteIssue11Tests {
    /// A digit set like an old interpreter's: ASCII, Arabic-Indic and Devanagari only.
    static let oldDigits = "30-39,660-669,966-96F"

    static func matcher(digits: String?) throws -> RouteMatcher {
        try routeMatcher([rule("/n/<int:n>", "n"), rule("/s/<int(signed=True):n>", "s"), rule("/f/<float:x>", "f")]) {
            $0.digitRanges = digits
        }
    }

    struct DigitCase: CustomTestStringConvertible, Sendable {
        let target: String
        /// The argument with the app's (old) digit set; `nil`: 404.
        let withAppDigits: JSONValue?
        var testDescription: String { target }
    }

    @Test(arguments: [
        DigitCase(target: "/n/42", withAppDigits: .int(42)),
        DigitCase(target: "/n/%D9%A3", withAppDigits: .int(3)),  // U+0663 ARABIC-INDIC DIGIT THREE
        DigitCase(target: "/n/%E0%A5%AB%E0%A5%AA", withAppDigits: .int(54)),  // Devanagari 5, 4
        DigitCase(target: "/n/%F0%91%BD%93", withAppDigits: nil),  // U+11F53 KAWI DIGIT THREE (Unicode 15)
        DigitCase(target: "/n/1%F0%91%BD%90", withAppDigits: nil),
        DigitCase(target: "/n/%DB%B5", withAppDigits: nil),  // U+06F5: not in this app's set
        DigitCase(target: "/s/-%D9%A1", withAppDigits: .int(-1)),
        DigitCase(target: "/s/-%F0%91%BD%91", withAppDigits: nil),
        DigitCase(target: "/f/1.%D9%A5", withAppDigits: .double(1.5)),
        DigitCase(target: "/f/1.%F0%91%BD%95", withAppDigits: nil),
        DigitCase(target: "/f/%F0%91%BD%91.5", withAppDigits: nil),
    ])
    func theAppsInterpreterDecidesWhatADigitIs(_ item: DigitCase) throws {
        let matcher = try Self.matcher(digits: Self.oldDigits)
        let verdict = matcher.match(method: "GET", target: item.target)
        #expect(matched(verdict)?.1.values.first == item.withAppDigits, "\(verdict)")
        let gate = matcher.gate(method: "GET", target: item.target)
        #expect(gate.forwards == (item.withAppDigits != nil), "\(gate)")
    }

    /// A table from an older probe (no `digit_ranges`) keeps Swift's own Unicode table: Kawi is a digit there.
    @Test func withoutTheAppsDigitsSwiftsTableDecides() throws {
        let matcher = try Self.matcher(digits: nil)
        #expect(matched(matcher.match(method: "GET", target: "/n/%F0%91%BD%93"))?.1["n"] == .int(3))
        #expect(matched(matcher.match(method: "GET", target: "/n/%DB%B5"))?.1["n"] == .int(5))
    }

    @Test(arguments: ["", "30", "30-", "39-30", "40-49,30-39", "30-39,35-40", "30-39;40-49", "G0-G9", "110000-110009"])
    func malformedDigitRangesAreRefused(_ text: String) {
        #expect(PythonDigits(text) == nil)
        #expect(throws: RouteError.malformedDigitRanges(text)) { try Self.matcher(digits: text) }
    }

    @Test func digitRangesAreOptionalInTheJSON() throws {
        let old = try JSONDecoder().decode(RouteTable.self, from: Data(#"{"rules": []}"#.utf8))
        #expect(old.digitRanges == nil)
        let new = try JSONDecoder().decode(
            RouteTable.self,
            from: Data(#"{"rules": [], "digit_ranges": "30-39,660-669"}"#.utf8)
        )
        #expect(new.digitRanges == "30-39,660-669")
        let again = try JSONDecoder().decode(RouteTable.self, from: JSONEncoder().encode(new))
        #expect(again == new)
        #expect(PythonDigits("30-39,660-669")?.contains("\u{0665}") == true)
        #expect(PythonDigits("30-39,660-669")?.contains("\u{066A}") == false)
        #expect(PythonDigits("30-39,660-669")?.contains("/") == false)
    }

    /// A custom converter's `\d` goes through ICU, with the app's digits as an explicit class.
    @Test func aCustomRegexDigitIsTheAppsToo() throws {
        let translated = PythonRegexTranslation.translate(#"(?P<__werkzeug_0>\d+[\d_]\D)\Z"#, digits: PythonDigits("30-39,660-669"))
        #expect(translated?.pattern == #"([\x{30}-\x{39}\x{660}-\x{669}]+[\x{30}-\x{39}\x{660}-\x{669}_][^\x{30}-\x{39}\x{660}-\x{669}])\z"#)
    }

    /// A custom converter's `to_python` (converting, or raising `ValidationError`) cannot run here: once its regex
    /// matches, the request reaches the rule and is forwarded (the app decides, its 404 included); the guard only
    /// strikes what no rule's regexes match, which Werkzeug's walk does not match either.
    @Test func aRuleWithACustomConverterIsForwardedOnceItsRegexMatches() throws {
        var custom = rule("/c/<even:n>", "c")
        custom.converters = [
            ConverterSpec(variable: "n", converter: "even", kind: "custom", regex: #"\d+"#, weight: 50, partIsolating: true)
        ]
        let matcher = try routeMatcher([custom]) { $0.digitRanges = Self.oldDigits }
        #expect(matcher.gate(method: "GET", target: "/c/3") == .forward(rule: 0))
        #expect(matcher.gate(method: "GET", target: "/c/%D9%A3") == .forward(rule: 0))
        #expect(matcher.gate(method: "GET", target: "/c/%F0%91%BD%93") == .notFound)  // Kawi: not the app's \d
        #expect(matcher.gate(method: "POST", target: "/c/3") == .methodNotAllowed(allowed: ["GET", "HEAD", "OPTIONS"]))
    }

    struct JoinCase: CustomTestStringConvertible, Sendable {
        let scheme: String
        let url: String
        let expected: String
        var testDescription: String { "\(scheme) \(url)" }
    }

    /// `urljoin(f"{scheme}://localhost/", url)` as CPython 3.11 answers it: `;params` split off the last segment
    /// for `http` (not for `ws`, which is not in `uses_params`), kept only when not empty, out of dot-segment removal.
    @Test(arguments: [
        ("http", "x;y", "http://localhost/x;y"), ("http", "x;", "http://localhost/x"),
        ("http", "a/..;", "http://localhost/"), ("http", "a/b;c/d", "http://localhost/a/b;c/d"),
        ("http", "/a/b;p", "http://localhost/a/b;p"), ("http", "/a/b;", "http://localhost/a/b"),
        ("http", "a;b;c", "http://localhost/a;b;c"), ("http", "../x;p", "http://localhost/x;p"),
        ("http", "./;", "http://localhost/"), ("http", ".;x", "http://localhost/;x"), ("http", ";x", "http://localhost/;x"),
        ("http", ";", "http://localhost/"), ("http", "//other/a;b", "http://other/a;b"),
        ("http", "//other/a;", "http://other/a"), ("http", "/a;b?q=1#f", "http://localhost/a;b?q=1#f"),
        ("http", "/a;?q", "http://localhost/a?q"), ("http", "a/.;", "http://localhost/a/"),
        ("http", "a/..;p", "http://localhost/;p"), ("http", "http://ext.test/x;y", "http://ext.test/x;y"),
        ("http", "ws://e/x;", "ws://e/x;"), ("http", "/x;y/z", "http://localhost/x;y/z"),
        ("http", "x;y/..", "http://localhost/"), ("http", "/a/./b;;", "http://localhost/a/b;;"),
        ("ws", "x;", "ws://localhost/x;"), ("ws", "a/..;", "ws://localhost/a/..;"), ("ws", "./;", "ws://localhost/;"),
        ("ws", ".;x", "ws://localhost/.;x"), ("ws", ";", "ws://localhost/;"), ("ws", "//other/a;", "ws://other/a;"),
        ("ws", "/a;?q", "ws://localhost/a;?q"), ("ws", "a/.;", "ws://localhost/a/.;"), ("ws", "x;y/..", "ws://localhost/"),
    ].map { JoinCase(scheme: $0.0, url: $0.1, expected: $0.2) })
    func redirectTargetsAreJoinedLikeUrljoin(_ item: JoinCase) {
        #expect(RouteURLBuilding.urljoin(scheme: item.scheme, netloc: "localhost", item.url) == item.expected)
    }

    @Test func aRedirectToWithParamsRedirectsWhereWerkzeugDoes() throws {
        var moved = rule("/old/<n>", "old")
        moved.redirectTo = "new/<n>/..;"
        var bare = rule("/bare", "bare")
        bare.redirectTo = "x;"
        let matcher = try routeMatcher([moved, bare])
        #expect(matcher.match(method: "GET", target: "/old/7") == .redirect(location: "http://localhost/new/"))
        #expect(matcher.match(method: "GET", target: "/bare") == .redirect(location: "http://localhost/x"))
        #expect(matcher.match(method: "GET", target: "/bare", websocket: false) != .notFound)
    }

    /// Which hosts `Map.bind` refuses (Werkzeug's `BadHost`, 400), by Werkzeug 3.1 under Flask 3.1's default
    /// binding (no `SERVER_NAME`): the ASCII `idna` codec's rule on the part before `:`, for hosts `get_host`
    /// keeps (else the host is "" and binds).
    @Test(arguments: [
        ("localhost", false), ("a..b", true), (".a", true), ("a.", false), ("..", true), (".", true),
        (String(repeating: "a", count: 63), false), (String(repeating: "a", count: 64), true),
        (String(repeating: "x", count: 64) + ".com", true), ("a." + String(repeating: "b", count: 64), true),
        ("a." + String(repeating: "b", count: 63), false), ("a..b:5000", true), ("a..b:80", true), ("[::1]", false),
        ("[::1]:5000", false), ("bad_host", false), ("a..b:x", false), ("-a.b", false), ("A..B", true),
        ("a.b..", true), ("a.b.", false), (".example.com", true), ("a..b.example.com", true), ("%2e.a", false),
        ("a..b:", false), ("a_b..c", false), ("..:5000", true), (String(repeating: "a", count: 64) + ":80", true),
        (String(repeating: "a", count: 64) + ":8080", true), ("ä..b", false), ("", false),
    ])
    func hostsWerkzeugCannotBindAreBadHosts(host: String, bad: Bool) throws {
        let matcher = try routeMatcher([rule("/", "index")])
        let verdict = matcher.match(method: "GET", target: "/", host: host)
        #expect(verdict == (bad ? .badHost : .match(endpoint: "index", ruleIndex: 0, arguments: [])))
        #expect(matcher.gate(method: "GET", target: "/", host: host) == (bad ? .badHost : .forward(rule: 0)))
        // Whatever the path: Map.bind fails before matching.
        #expect((matcher.gate(method: "POST", target: "/nope", host: host) == .badHost) == bad)
        if bad { #expect(verdict.status == 400) }
    }

    @Test func withSubdomainMatchingTheServerNameIsWhatBinds() throws {
        let matcher = try routeMatcher([rule("/", "index")]) {
            $0.subdomainMatching = true
            $0.serverName = "example.com"
        }
        // SERVER_NAME is what Map.bind encodes: a broken Host is a subdomain that matches nothing (404).
        #expect(matcher.match(method: "GET", target: "/", host: "a..b.example.com") == .notFound)
        #expect(matched(matcher.match(method: "GET", target: "/", host: ".example.com"))?.0 == "index")
        let broken = try routeMatcher([rule("/", "index")]) { $0.serverName = "a..b" }
        #expect(broken.match(method: "GET", target: "/", host: "localhost") == .badHost)
        #expect(broken.gate(method: "GET", target: "/", host: "localhost") == .badHost)
        #expect(VerdictReport.json(.badHost) == #"{"outcome": "bad_host", "status": 400}"#)
        #expect(VerdictReport.text(.badHost) == "400 bad host")
    }
}
