#if canImport(FeistyCore)
    import FeistyCore
#endif

/// Compares `RouteMatcher` (both `match` and the proxy's `gate`) with the verdicts of the Werkzeug oracle
/// (`tests/differential/werkzeug_oracle.py`). Shared by the differential test (a few thousand cases) and
/// `feisty-fuzz diff` (millions, from `bench/fuzz_routes.sh`).
public enum WerkzeugDifferential {
    /// What one comparison found: the cases checked, the disagreements, and how often each kind of verdict came
    /// up (`"<kind> <plain|websocket>"`), so that a run can prove what it covered.
    public struct Run: Sendable {
        public var checked = 0
        public var failures: [String] = []
        public var kinds: [String: Int] = [:]

        public init() {}
    }

    /// Checks every case of `oracle` against a matcher compiled from its ruleset's table.
    public static func check(_ oracle: WerkzeugOracleOutput, into run: inout Run) {
        for ruleset in oracle.rulesets {
            let matcher: RouteMatcher
            do {
                matcher = try RouteMatcher(table: ruleset.table)
            } catch {
                run.failures.append("seed \(oracle.seed) ruleset \(ruleset.index): \(error)")
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
                // A gate out of work budget forwards (the app decides): only `match` is then held to Werkzeug's word.
                let overBudget =
                    gate == .forward(rule: nil)
                    && matcher.gateWork(method: item.method, target: item.target, host: item.host, websocket: handshake)
                        .overBudget
                if let problem = disagreement(item.expect, verdict, overBudget ? nil : gate) {
                    run.failures.append(
                        "seed \(oracle.seed) ruleset \(ruleset.index): \(item.method) \(item.target) host=\(item.host)"
                            + " connection=\(item.connection ?? []) upgrade=\(item.upgrade ?? [])"
                            + " expected \(item.expect.kind) \(item.expect.location ?? "")"
                            + "\(item.expect.endpoint ?? "") \(item.expect.rule.map(String.init) ?? "")"
                            + " \(item.expect.args ?? []) \(item.expect.allowed ?? []): \(problem)"
                    )
                }
            }
        }
    }

    /// `nil` when the verdict and the gate decision agree with Werkzeug's, else a description of the disagreement.
    /// `gate` is `nil` when the gate ran out of work budget and forwarded: only the verdict is judged then.
    public static func disagreement(
        _ expect: WerkzeugOracleOutput.Expect,
        _ verdict: RouteVerdict,
        _ gate: RouteGateDecision?
    ) -> String? {
        let expectedGate: RouteGateDecision
        switch expect.kind {
        case "match": expectedGate = .forward(rule: expect.rule)
        case "redirect", "error": expectedGate = gate?.forwards == true ? gate! : .forward(rule: nil)
        case "websocket_mismatch": expectedGate = .forward(rule: nil)  // the app answers its own 400
        case "405": expectedGate = .methodNotAllowed(allowed: expect.allowed ?? [])
        case "bad_host": expectedGate = .badHost  // feisty answers the 400 itself
        default: expectedGate = .notFound
        }
        if let gate, gate != expectedGate { return "gate \(gate), expected \(expectedGate)" }
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

    /// Python's view of a converted value: a tag and its text (floats are compared as numbers).
    static func tagged(_ value: JSONValue) -> [String] {
        switch value {
        case .null: ["null", ""]
        case .bool(let flag): ["bool", flag ? "True" : "False"]
        case .int(let number): ["int", String(number)]
        case .bigInteger(let digits): ["int", digits]
        case .double(let number): ["float", String(number)]
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
}
