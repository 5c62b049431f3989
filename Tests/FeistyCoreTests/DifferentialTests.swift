import Foundation
import Testing

@testable import FeistyCore

/// The matcher against Werkzeug itself: `tests/differential/werkzeug_oracle.py` builds seeded random Flask
/// apps, sends generated request targets through the dev server's request handling and Flask's map
/// binding, and records Werkzeug's verdicts; every case must get the same verdict here.
///
/// The WebSocket run (`--websocket`) adds `websocket=True` rules and `Connection`/`Upgrade` fields: the
/// handshake test (`isWebSocketHandshake`) reads the fields as the dev server parsed them, and the verdict
/// must still be Werkzeug's.
///
/// `FEISTY_DIFF_SEED` (default 1) and `FEISTY_DIFF_CASES` (default 4000) select the run.
@Suite struct DifferentialTests {
    struct OracleOutput: Decodable {
        var seed: Int
        var rulesets: [Ruleset]
    }

    struct Ruleset: Decodable {
        var index: Int
        var table: RouteTable
        var cases: [Case]
    }

    struct Case: Decodable {
        var method: String
        var target: String
        var host: String
        var expect: Expect
        /// The `Connection` and `Upgrade` field values, one per field line (WebSocket run only).
        var connection: [String]?
        var upgrade: [String]?
    }

    struct Expect: Decodable {
        var kind: String
        var location: String?
        var allowed: [String]?
        var endpoint: String?
        var rule: Int?
        var args: [[String]]?
        var message: String?
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func runOracle(seed: Int, rulesets: Int, requests: Int, websocket: Bool = false) throws -> OracleOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot.appendingPathComponent("tests/differential/werkzeug_oracle.py").path,
            "--seed", String(seed), "--rulesets", String(rulesets), "--requests", String(requests),
        ]
        if websocket { process.arguments!.append("--websocket") }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the oracle failed")
        return try JSONDecoder().decode(OracleOutput.self, from: data)
    }

    /// Python's view of a converted value: a tag and its text (`repr` for floats, compared numerically).
    static func tagged(_ value: JSONValue) -> [String] {
        switch value {
        case .null: ["null", ""]
        case .bool(let flag): ["bool", flag ? "True" : "False"]
        case .int(let number): ["int", String(number)]
        case .bigInteger(let digits): ["int", digits]
        case .double(let number): ["float", RouteURLBuilding.pythonFloatRepr(number)]
        case .string(let text): ["str", text]
        default: ["json", String(describing: value)]
        }
    }

    static func sameArguments(_ expected: [[String]], _ got: [(name: String, value: JSONValue)]) -> Bool {
        guard expected.count == got.count else { return false }
        var byName: [String: [String]] = [:]
        for (name, value) in got { byName[name] = tagged(value) }
        for item in expected {
            guard item.count == 3, let tag = byName[item[0]], tag[0] == item[1] else { return false }
            if item[1] == "float" {
                let left = Double(item[2]) ?? .nan
                let right = Double(tag[1]) ?? .nan
                if !(left == right || (left.isNaN && right.isNaN)) { return false }
            } else if tag[1] != item[2] {
                return false
            }
        }
        return true
    }

    /// `nil` when the verdict agrees with Werkzeug's, else a description of the disagreement.
    static func disagreement(_ expect: Expect, _ verdict: RouteVerdict, _ gate: RouteGateDecision) -> String? {
        let expectedGate: RouteGateDecision
        switch expect.kind {
        case "match": expectedGate = .forward(rule: expect.rule)
        case "redirect", "error": expectedGate = gate.forwards ? gate : .forward(rule: nil)
        case "websocket_mismatch": expectedGate = .forward(rule: nil)  // the app answers its own 400
        case "405": expectedGate = .methodNotAllowed(allowed: expect.allowed ?? [])
        case "bad_host": expectedGate = .badHost  // feisty answers the 400 itself
        default: expectedGate = .notFound
        }
        if gate != expectedGate { return "gate \(gate), expected \(expectedGate)" }
        switch (expect.kind, verdict) {
        case ("match", .match(let endpoint, let index, let arguments)):
            if endpoint == expect.endpoint, index == expect.rule, sameArguments(expect.args ?? [], arguments) {
                return nil
            }
        case ("redirect", .redirect(let location)) where location == expect.location:
            return nil
        case ("405", .methodNotAllowed(let allowed)) where allowed == expect.allowed:
            return nil
        case ("404", .notFound), ("bad_host", .badHost), ("websocket_mismatch", .websocketMismatch):
            return nil
        case ("error", _):
            return nil
        default:
            break
        }
        return "got \(verdict)"
    }

    /// What one oracle run found: the cases checked, the disagreements, and how often each kind of
    /// verdict came up (`"<kind> <plain|websocket>"`), so that a run can prove what it covered.
    struct Run {
        var checked = 0
        var failures: [String] = []
        var kinds: [String: Int] = [:]
    }

    static func check(seed: Int, cases: Int, websocket: Bool) throws -> Run {
        let requests = 50
        let oracle = try Self.runOracle(
            seed: seed,
            rulesets: max(1, cases / requests),
            requests: requests,
            websocket: websocket
        )
        var run = Run()
        for ruleset in oracle.rulesets {
            let matcher: RouteMatcher
            do {
                matcher = try RouteMatcher(table: ruleset.table)
            } catch {
                run.failures.append("seed \(seed) ruleset \(ruleset.index): \(error)")
                continue
            }
            for item in ruleset.cases {
                let handshake = RouteMatcher.isWebSocketHandshake(
                    connection: item.connection ?? [],
                    upgrade: item.upgrade ?? []
                )
                let verdict = matcher.match(
                    method: item.method,
                    target: item.target,
                    host: item.host,
                    websocket: handshake
                )
                let gate = matcher.gate(method: item.method, target: item.target, host: item.host, websocket: handshake)
                run.checked += 1
                var kind = item.expect.kind
                if kind == "redirect", let location = item.expect.location, location.hasPrefix("ws:") { kind += " ws:" }
                run.kinds["\(kind) \(handshake ? "websocket" : "plain")", default: 0] += 1
                if let problem = Self.disagreement(item.expect, verdict, gate) {
                    run.failures.append(
                        "seed \(seed) ruleset \(ruleset.index): \(item.method) \(item.target) host=\(item.host)"
                            + " connection=\(item.connection ?? []) upgrade=\(item.upgrade ?? [])"
                            + " expected \(item.expect.kind) \(item.expect.location ?? "")"
                            + "\(item.expect.endpoint ?? "") \(item.expect.rule.map(String.init) ?? "")"
                            + " \(item.expect.args ?? []) \(item.expect.allowed ?? []): \(problem)"
                    )
                }
            }
        }
        return run
    }

    static var seed: Int { ProcessInfo.processInfo.environment["FEISTY_DIFF_SEED"].flatMap(Int.init) ?? 1 }
    static var cases: Int { ProcessInfo.processInfo.environment["FEISTY_DIFF_CASES"].flatMap(Int.init) ?? 4000 }

    @Test func agreesWithWerkzeug() throws {
        let run = try Self.check(seed: Self.seed, cases: Self.cases, websocket: false)
        #expect(run.checked > Self.cases / 2, "the oracle produced too few cases")
        #expect(
            run.failures.isEmpty,
            "\(run.failures.count) of \(run.checked) cases disagree:\n\(run.failures.prefix(15).joined(separator: "\n"))"
        )
        print("differential: seed \(Self.seed), \(run.checked) cases, \(run.failures.count) disagreements")
    }

    /// Apps with `websocket=True` rules, requests with and without handshakes.
    @Test func agreesWithWerkzeugOnWebSockets() throws {
        let run = try Self.check(seed: Self.seed, cases: Self.cases, websocket: true)
        #expect(run.checked > Self.cases / 2, "the oracle produced too few cases")
        #expect(
            run.failures.isEmpty,
            "\(run.failures.count) of \(run.checked) cases disagree:\n\(run.failures.prefix(15).joined(separator: "\n"))"
        )
        // The run is only worth something if it met every WebSocket outcome.
        for kind in [
            "match websocket", "match plain", "websocket_mismatch websocket", "websocket_mismatch plain",
            "405 websocket", "redirect ws: websocket", "404 websocket",
        ] {
            #expect(run.kinds[kind, default: 0] > 0, "no \(kind) case in the run: \(run.kinds)")
        }
        print(
            "differential (WebSocket): seed \(Self.seed), \(run.checked) cases, \(run.failures.count) disagreements,"
                + " \(run.kinds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))"
        )
    }
}
