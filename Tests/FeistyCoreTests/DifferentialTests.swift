import Foundation
import Testing

@testable import FeistyCore

/// The matcher against Werkzeug itself: `tests/differential/werkzeug_oracle.py` builds seeded random Flask
/// apps, sends generated request targets through the dev server's request handling and Flask's map
/// binding, and records Werkzeug's verdicts; every case must get the same verdict here.
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

    static func runOracle(seed: Int, rulesets: Int, requests: Int) throws -> OracleOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot.appendingPathComponent("tests/differential/werkzeug_oracle.py").path,
            "--seed", String(seed), "--rulesets", String(rulesets), "--requests", String(requests),
        ]
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
        case "405": expectedGate = .methodNotAllowed(allowed: expect.allowed ?? [])
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
        case ("404", .notFound), ("bad_host", .notFound), ("websocket_mismatch", .notFound):
            return nil
        case ("error", _):
            return nil
        default:
            break
        }
        return "got \(verdict)"
    }

    @Test func agreesWithWerkzeug() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["FEISTY_DIFF_SEED"].flatMap(Int.init) ?? 1
        let cases = environment["FEISTY_DIFF_CASES"].flatMap(Int.init) ?? 4000
        let requests = 50
        let oracle = try Self.runOracle(seed: seed, rulesets: max(1, cases / requests), requests: requests)
        var checked = 0
        var failures: [String] = []
        for ruleset in oracle.rulesets {
            let matcher: RouteMatcher
            do {
                matcher = try RouteMatcher(table: ruleset.table)
            } catch {
                failures.append("seed \(seed) ruleset \(ruleset.index): \(error)")
                continue
            }
            for item in ruleset.cases {
                let verdict = matcher.match(method: item.method, target: item.target, host: item.host)
                let gate = matcher.gate(method: item.method, target: item.target, host: item.host)
                checked += 1
                if let problem = Self.disagreement(item.expect, verdict, gate) {
                    failures.append(
                        "seed \(seed) ruleset \(ruleset.index): \(item.method) \(item.target) host=\(item.host)"
                            + " expected \(item.expect.kind) \(item.expect.location ?? "")"
                            + "\(item.expect.endpoint ?? "") \(item.expect.rule.map(String.init) ?? "")"
                            + " \(item.expect.args ?? []) \(item.expect.allowed ?? []): \(problem)"
                    )
                }
            }
        }
        #expect(checked > cases / 2, "the oracle produced too few cases")
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(checked) cases disagree:\n\(failures.prefix(15).joined(separator: "\n"))"
        )
        print("differential: seed \(seed), \(checked) cases, \(failures.count) disagreements")
    }
}
