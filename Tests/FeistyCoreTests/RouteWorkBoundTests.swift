import Testing

@testable import FeistyCore

/// The matcher's work on the shapes fuzzing found quadratic (docs/PERFORMANCE.md, "Route fuzzing"): two converters
/// that can each span several segments. Steps are counted (`RouteMatcher.gateWork`), not timed.
@Suite struct RouteWorkBoundTests {
    /// `SlugPathConverter` of the Werkzeug oracle: a custom converter whose regex spans segments (ICU).
    static func slugpath(_ text: String, _ endpoint: String) -> RouteRule {
        var custom = rule(text, endpoint)
        custom.converters = [
            ConverterSpec(
                variable: "v0",
                converter: "path",
                kind: "path",
                regex: "[^/].*?",
                weight: 200,
                partIsolating: false
            ),
            ConverterSpec(
                variable: "v2",
                converter: "slugpath",
                kind: "custom",
                regex: "[a-z]+(?:/[a-z]+)*",
                weight: 100,
                partIsolating: false
            ),
        ]
        return custom
    }

    static let native = "//<path:v0>.txt/item/<int:v2>/<path:v4>.txt//edit"
    static let nativeUnit = "//x.txt.txt/item/100/a//b.txt//editx"

    /// A long target, named by its start and size.
    struct Case: Sendable, CustomTestStringConvertible {
        var target: String
        var testDescription: String { "\(target.prefix(40))… (\(target.utf8.count) bytes)" }
    }

    /// 4, 8 and 16 KiB of the fuzzer's native target (Werkzeug: 404).
    static let nativeCases: [Case] = [4, 8, 16].map { kib in
        Case(target: String(repeating: nativeUnit, count: kib * 1024 / nativeUnit.utf8.count))
    }

    @Test(arguments: nativeCases)
    func twoPathsStayLinearAndAgreeWithMatch(_ item: Case) throws {
        let matcher = try routeMatcher([rule(Self.native, "e")])
        let work = matcher.gateWork(method: "GET", target: item.target)
        #expect(work.decision == .notFound)
        #expect(!work.overBudget)
        // Quadratic was about 450 full scans of the target at 16 KiB (7 M steps); linear is a few per byte (two
        // walks here: the path as sent, then with its slashes merged).
        #expect(work.steps <= 8 * item.target.utf8.count)
        #expect(matcher.match(method: "GET", target: item.target) == .notFound)
    }

    @Test func aLongMatchKeepsWerkzeugsCaptures() throws {
        // The same shape with single slashes (no merged-slashes redirect), matching only at the very end.
        let matcher = try routeMatcher([rule("/<path:v0>.txt/item/<int:v2>/<path:v4>.txt/edit", "e")])
        let unit = "/x.txt.txt/item/100/a/b.txt/editx"
        let body = String(repeating: unit, count: 16 * 1024 / unit.utf8.count)
        #expect(matcher.gateWork(method: "GET", target: body).steps <= 4 * body.utf8.count)
        let target = body + "/y.txt/item/7/z.txt/edit"
        let work = matcher.gateWork(method: "GET", target: target)
        #expect(work.decision == .forward(rule: 0))
        #expect(work.steps <= 4 * target.utf8.count)
        // What Werkzeug 3.1 answers: the shortest first path, then the shortest second one reaching the end.
        let expected: [String: JSONValue] = [
            "v0": .string("x.txt"), "v2": .int(100),
            "v4": .string("a/b.txt/editx" + body.dropFirst(unit.utf8.count) + "/y.txt/item/7/z"),
        ]
        #expect(matched(matcher.match(method: "GET", target: target))?.1 == expected)
    }

    /// Other native shapes fuzzing's kind of target made quadratic: a greedy `string` restarted by a lazy `path`, a
    /// `float` between two paths. 16 KiB each, all 404.
    static let otherShapes: [(String, Case)] = [
        ("/<path:a>-<b>.txt", Case(target: String(repeating: "x-y", count: 5461))),
        ("/<path:a>/<float:x>/<path:b>/edit", Case(target: String(repeating: "/a/1.5/b", count: 2048))),
    ]

    @Test(arguments: otherShapes)
    func otherNativeShapesStayLinear(_ ruleText: String, _ item: Case) throws {
        let matcher = try routeMatcher([rule(ruleText, "e")])
        let work = matcher.gateWork(method: "GET", target: item.target)
        #expect(work.decision == .notFound && !work.overBudget)
        #expect(work.steps <= 4 * item.target.utf8.count)
        #expect(matcher.match(method: "GET", target: item.target) == .notFound)
    }

    @Test(arguments: [4, 8, 16])
    func aCustomConverterRunsOutOfBudgetAndTheGateForwards(_ kib: Int) throws {
        let matcher = try routeMatcher([Self.slugpath("/<path:v0>/<slugpath:v2>/edit", "e")])
        let target = "/w%scanon/" + String(repeating: "a/", count: kib * 512)
        let work = matcher.gateWork(method: "GET", target: target)
        // ICU backtracks quadratically here (as Python's `re` does): the gate stops at its budget and lets the app
        // decide, with no strike; `match` still walks to Werkzeug's answer.
        #expect(work.overBudget && work.decision == .forward(rule: nil))
        let budget = RouteMatcher.Compiled.gateWork(pathCount: target.utf8.count)
        #expect(work.steps <= budget + PartPattern.icuStepsPerReport)
        if kib == 4 { #expect(matcher.match(method: "GET", target: target) == .notFound) }
    }

    /// Out of budget, the gate's forward is no strike: five such 404s in a row ban nobody, where five short 404s on
    /// the same rule are a word list (the guard's default: a ban at the fifth distinct path).
    @Test func aRequestTooCostlyToDecideIsNoStrike() throws {
        let matcher = try routeMatcher([Self.slugpath("/<path:v0>/<slugpath:v2>/edit", "e")])
        let client = try #require(ClientKey(client: "192.0.2.7"))
        var book = StrikeBook()
        let costly = (1...5).map { "/w\($0)%scanon/" + String(repeating: "a/", count: 8192) }
        let actions = costly.enumerated().map { index, target in
            book.record(client: client, target: target, verdict: matcher.gate(method: "GET", target: target),
                        at: .seconds(index))
        }
        #expect(actions.allSatisfy { $0 == .none })
        let cheap = (1...5).map { "/w\($0)%scanon/a/a/" }
        let last = cheap.enumerated().map { index, target in
            book.record(client: client, target: target, verdict: matcher.gate(method: "GET", target: target),
                        at: .seconds(10 + index))
        }.last
        guard case .ban = last else {
            Issue.record("five short 404s did not ban: \(String(describing: last))")
            return
        }
    }

    @Test(arguments: ["/w/" + String(repeating: "a/", count: 8000) + "edit", "/w%scanon/a/edit", "/w/a/b"])
    func aCustomConverterWithinBudgetDecidesAsMatchDoes(_ target: String) throws {
        let matcher = try routeMatcher([Self.slugpath("/<path:v0>/<slugpath:v2>/edit", "e")])
        let work = matcher.gateWork(method: "GET", target: target)
        #expect(!work.overBudget)
        let verdict = matcher.match(method: "GET", target: target)
        let expected: RouteGateDecision = if case .match = verdict { .forward(rule: 0) } else { .notFound }
        #expect(work.decision == expected)
    }
}
