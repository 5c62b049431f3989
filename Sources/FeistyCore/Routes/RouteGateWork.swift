/// What one gate decision cost (`RouteMatcher.gateWork`): for tests and the fuzzers, which check that the walk stays
/// linear in the target and that the gate departs from `match` only when it ran out of budget.
public struct RouteGateWork: Sendable, Hashable {
    /// The gate's decision, the same as `RouteMatcher.gate` gives.
    public var decision: RouteGateDecision
    /// Steps the walks took (candidates tried by `PartWalk`, ICU steps for custom converters; both walks when the
    /// path's slashes were merged for a second one).
    public var steps: Int
    /// Whether the budget ran out, so that the gate forwarded instead of deciding.
    public var overBudget: Bool
}

extension RouteMatcher {
    /// `gate`, reporting the work the decision took.
    public func gateWork(
        method: String,
        target: String,
        host: String = "localhost",
        websocket: Bool = false
    ) -> RouteGateWork {
        let decision = gate(method: method, target: target, host: host, websocket: websocket)
        var steps = 0
        let outcome = target.utf8.span.withUnsafeBufferPointer { utf8 in
            let request = RequestTarget(utf8)
            guard let bound = compiled.binding.bind(host: request.hostOverride ?? host) else {
                return RouteMatcher.Compiled.Outcome.noMatch(haveMatchFor: 0, websocketMismatch: false)
            }
            let methodBit = compiled.methods.bit(method)
            let resolve = { (path: UnsafeBufferPointer<UInt8>) in
                Array(bound.domain.utf8).withUnsafeBufferPointer { domain in
                    compiled.withCaptures { captures in
                        compiled.resolve(
                            domain: domain,
                            path: path,
                            methodBit: methodBit,
                            websocket: websocket,
                            captures: captures,
                            bounded: true,
                            spent: &steps
                        )
                    }
                }
            }
            if let decoded = request.decodedPath { return decoded.withUnsafeBufferPointer(resolve) }
            return resolve(UnsafeBufferPointer(rebasing: utf8[request.pathStart..<request.pathEnd]))
        }
        if case .overBudget = outcome { return RouteGateWork(decision: decision, steps: steps, overBudget: true) }
        return RouteGateWork(decision: decision, steps: steps, overBudget: false)
    }
}
