#if canImport(FeistyCore)
    import FeistyCore
#endif

/// What must hold for every request, whatever the route table: checked by `feisty-fuzz invariants` on millions
/// of generated requests, where no oracle says what the right verdict is.
public enum RouteInvariants {
    /// `nil` when `request` satisfies every invariant on `matcher`, else what broke:
    /// - `match` and `gate` are deterministic (asked twice, they answer the same);
    /// - `gate` agrees with `match` (the proxy forwards exactly what Werkzeug would not answer 404/405/400 for);
    /// - a matched rule index is in the table and names the rule's endpoint; a 405 lists its methods sorted,
    ///   upper-case and not empty; a redirect has a location;
    /// - the method's ASCII case does not matter (`MapAdapter.match` upper-cases it);
    /// - a query string does not change the gate's decision.
    public static func violation(_ matcher: RouteMatcher, _ request: FuzzRequest) -> String? {
        let verdict = matcher.match(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket
        )
        let gate = matcher.gate(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket
        )
        let again = matcher.match(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket
        )
        if String(describing: again) != String(describing: verdict) {
            return "match is not deterministic: \(verdict), then \(again)"
        }
        let gateAgain = matcher.gate(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket
        )
        if gateAgain != gate { return "gate is not deterministic: \(gate), then \(gateAgain)" }
        if let problem = gateDisagreement(verdict, gate), !spentBudget(matcher, request, gate) { return problem }
        if let problem = malformed(verdict, matcher.table) { return problem }
        if request.method.allSatisfy(\.isASCII) {
            let upper = matcher.match(
                method: request.method.uppercased(),
                target: request.target,
                host: request.host,
                websocket: request.websocket
            )
            let lower = matcher.match(
                method: request.method.lowercased(),
                target: request.target,
                host: request.host,
                websocket: request.websocket
            )
            if String(describing: upper) != String(describing: verdict)
                || String(describing: lower) != String(describing: verdict)
            {
                return "the method's case changes the verdict: \(verdict), upper-case \(upper), lower-case \(lower)"
            }
        }
        if !request.target.contains("?"), !request.target.contains("#") {
            let queried = matcher.gate(
                method: request.method,
                target: request.target + "?q=1",
                host: request.host,
                websocket: request.websocket
            )
            if queried != gate { return "a query changes the gate: \(gate), with ?q=1 \(queried)" }
        }
        return nil
    }

    /// Whether the gate forwarded `request` because its walk ran out of work budget (`RouteGateWork`): then the app
    /// decides, and the gate may differ from `match`, which walks unbounded.
    public static func spentBudget(_ matcher: RouteMatcher, _ request: FuzzRequest, _ gate: RouteGateDecision) -> Bool {
        guard gate == .forward(rule: nil) else { return false }
        return matcher.gateWork(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket
        ).overBudget
    }

    /// The gate decision `match`'s verdict implies; `nil` when `gate` is it.
    public static func gateDisagreement(_ verdict: RouteVerdict, _ gate: RouteGateDecision) -> String? {
        let expected: RouteGateDecision
        switch verdict {
        case .match(_, let index, _): expected = .forward(rule: index)
        case .redirect, .websocketMismatch:
            // The app answers these itself; the gate may or may not know the rule behind a redirect.
            if gate.forwards { return nil }
            expected = .forward(rule: nil)
        case .notFound: expected = .notFound
        case .methodNotAllowed(let allowed): expected = .methodNotAllowed(allowed: allowed)
        case .badHost: expected = .badHost
        }
        return gate == expected ? nil : "gate \(gate) disagrees with match \(verdict)"
    }

    /// A description of what is wrong with the verdict's own fields, if anything.
    static func malformed(_ verdict: RouteVerdict, _ table: RouteTable) -> String? {
        switch verdict {
        case .match(let endpoint, let index, _):
            guard table.rules.indices.contains(index) else { return "matched rule \(index) is not in the table" }
            if table.rules[index].endpoint != endpoint {
                return "matched rule \(index) has endpoint \(table.rules[index].endpoint), verdict says \(endpoint)"
            }
        case .methodNotAllowed(let allowed):
            if allowed.isEmpty || allowed != allowed.sorted() || allowed.contains(where: { $0 != $0.uppercased() }) {
                return "malformed 405 list \(allowed)"
            }
        case .redirect(let location):
            if location.isEmpty { return "empty redirect location" }
        case .notFound, .websocketMismatch, .badHost:
            break
        }
        return nil
    }
}
