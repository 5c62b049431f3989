import Testing
import Foundation

@testable import FeistyCore

/// Rules whose custom converters define their own `to_python`/`to_url`: `matchNatively` hands the request to the
/// app's interpreter once the walk reaches such a rule (Werkzeug's `ValidationError` is a `NoMatch` for the whole
/// request, decided there), and the gate forwards it (the app decides; never a strike).
@Suite struct PythonConverterRulesTests {
    static func custom(_ variable: String, _ name: String, overrides: [String]) -> ConverterSpec {
        ConverterSpec(
            variable: variable,
            converter: name,
            kind: "custom",
            regex: #"\d+"#,
            weight: 100,
            partIsolating: true,
            overrides: overrides
        )
    }

    static let table = RouteTable(rules: [
        RouteRule(
            rule: "/even/<even:n>",
            endpoint: "even",
            converters: [custom("n", "even", overrides: ["to_python"])]
        ),
        RouteRule(rule: "/plain/<digits:n>", endpoint: "plain", converters: [custom("n", "digits", overrides: [])]),
        // A native converter that rejects (`max=5`) before the Python one: only the app's interpreter may say so.
        RouteRule(
            rule: "/both/<int(max=5):a>/<even:b>",
            endpoint: "both",
            converters: [
                ConverterSpec(
                    variable: "a",
                    converter: "int",
                    kind: "int",
                    regex: #"\d+"#,
                    weight: 50,
                    partIsolating: true
                ),
                custom("b", "even", overrides: ["to_python"]),
            ]
        ),
        // Shares its endpoint with a rule whose converter builds URLs in Python (default redirects use it).
        RouteRule(rule: "/page/", endpoint: "paged", defaults: ["n": .int(1)]),
        RouteRule(rule: "/page/<hex:n>", endpoint: "paged", converters: [custom("n", "hex", overrides: ["to_url"])]),
        RouteRule(rule: "/<int:year>", endpoint: "year"),
    ])

    struct Case: CustomTestStringConvertible, Sendable {
        let method: String
        let target: String
        let native: NativeVerdict
        let gate: RouteGateDecision
        var testDescription: String { "\(method) \(target)" }
    }

    @Test(arguments: [
        Case(method: "GET", target: "/even/3", native: .needsPython(ruleIndex: 0), gate: .forward(rule: 0)),
        Case(method: "GET", target: "/even/4", native: .needsPython(ruleIndex: 0), gate: .forward(rule: 0)),
        Case(
            method: "POST",
            target: "/even/3",
            native: .verdict(.methodNotAllowed(allowed: ["GET", "HEAD", "OPTIONS"])),
            gate: .methodNotAllowed(allowed: ["GET", "HEAD", "OPTIONS"])
        ),
        Case(method: "GET", target: "/even/x", native: .verdict(.notFound), gate: .notFound),
        Case(
            method: "GET",
            target: "/plain/3",
            native: .verdict(.match(endpoint: "plain", ruleIndex: 1, arguments: [("n", .string("3"))])),
            gate: .forward(rule: 1)
        ),
        Case(method: "GET", target: "/both/9/3", native: .needsPython(ruleIndex: 2), gate: .forward(rule: 2)),
        Case(method: "GET", target: "/page/", native: .needsPython(ruleIndex: 3), gate: .forward(rule: 3)),
        Case(method: "GET", target: "/page/ff", native: .verdict(.notFound), gate: .notFound),
        Case(method: "GET", target: "/page/12", native: .needsPython(ruleIndex: 4), gate: .forward(rule: 4)),
        Case(
            method: "GET",
            target: "/2024",
            native: .verdict(.match(endpoint: "year", ruleIndex: 5, arguments: [("year", .int(2024))])),
            gate: .forward(rule: 5)
        ),
        Case(method: "GET", target: "/even/3/", native: .verdict(.notFound), gate: .notFound),
    ])
    func theWalkNamesTheRuleAndTheGateForwards(_ c: Case) throws {
        let matcher = try RouteMatcher(table: Self.table)
        #expect(matcher.matchNatively(method: c.method, target: c.target) == c.native)
        #expect(matcher.gate(method: c.method, target: c.target) == c.gate)
    }

    /// Without the app's interpreter (`match`), such a rule is matched by its regex, the text as the argument.
    @Test func matchAloneKeepsTheRegexVerdict() throws {
        let matcher = try RouteMatcher(table: Self.table)
        #expect(
            matcher.match(method: "GET", target: "/even/3")
                == .match(endpoint: "even", ruleIndex: 0, arguments: [("n", .string("3"))])
        )
    }

    @Test func theProbesOverridesFieldIsReadAndWrittenBack() throws {
        let spec = Self.custom("n", "even", overrides: ["to_python", "to_url"])
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ConverterSpec.self, from: data) == spec)
        let old =
            #"{"variable": "n", "converter": "x", "kind": "custom", "regex": "a", "weight": 1, "part_isolating": true}"#
        #expect(try JSONDecoder().decode(ConverterSpec.self, from: Data(old.utf8)).overrides == [])
    }

    struct AnswerCase: CustomTestStringConvertible, Sendable {
        let line: String
        let answer: PythonMatchServer.Answer
        var testDescription: String { line }
    }

    /// The `match-server` protocol: Werkzeug's `NoMatch` after a `ValidationError` arrives as `not_found` (or
    /// `method_not_allowed` with what the walk collected), values come back exactly (big ints, floats, lists).
    @Test(arguments: [
        AnswerCase(line: #"{"outcome": "not_found"}"#, answer: .verdict(.notFound)),
        AnswerCase(
            line: #"{"outcome": "method_not_allowed", "allowed": ["OPTIONS", "POST"]}"#,
            answer: .verdict(.methodNotAllowed(allowed: ["OPTIONS", "POST"]))
        ),
        AnswerCase(
            line: #"{"outcome": "redirect", "location": "http://localhost/hex/1f"}"#,
            answer: .verdict(.redirect(location: "http://localhost/hex/1f"))
        ),
        AnswerCase(
            line:
                #"{"outcome": "match", "endpoint": "hex", "args": [["n", ["int", "123456789012345678901234567890"]], ["f", ["float", "1e+16"]], ["l", ["list", [["str", "a"], ["null"], ["bool", true]]]], ["d", ["dict", [["k", ["int", "1"]]]]]]}"#,
            answer: .verdict(
                .match(
                    endpoint: "hex",
                    ruleIndex: 4,
                    arguments: [
                        ("n", .bigInteger("123456789012345678901234567890")), ("f", .double(1e16)),
                        ("l", .array([.string("a"), .null, .bool(true)])), ("d", .object(["k": .int(1)])),
                    ]
                )
            )
        ),
        AnswerCase(line: #"{"outcome": "error", "message": "ValueError: no"}"#, answer: .appError("ValueError: no")),
        AnswerCase(line: #"{"outcome": "unparsed"}"#, answer: .unparsed),
        AnswerCase(line: #"{"outcome": "bad_host"}"#, answer: .verdict(.badHost)),
    ])
    func answersBecomeVerdicts(_ c: AnswerCase) throws {
        #expect(try PythonMatchServer.decode(c.line, ruleIndex: 4) == c.answer)
    }

    @Test func anUnreadableAnswerIsAFailure() {
        #expect(throws: PythonMatchServer.Failure.self) { try PythonMatchServer.decode("{}", ruleIndex: 0) }
        #expect(throws: PythonMatchServer.Failure.self) {
            try PythonMatchServer.decode(#"{"outcome": "match", "args": [["n", ["weird", 1]]]}"#, ruleIndex: 0)
        }
    }
}
