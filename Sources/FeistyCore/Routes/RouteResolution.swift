/// The shared core of `match` and `gate`: the state-machine walk with Werkzeug's follow-ups (converter
/// validation, the merged-slashes retry), and the gate's allocation-free path.
///
/// These are methods of the compiled matcher (a final class) so that the hot path reads its fields
/// through a reference that is already guaranteed for the call, without retaining anything.
extension RouteMatcher.Compiled {
    /// What `StateMachineMatcher.match` ends with. Plain data: the redirect paths are rebuilt by
    /// `match` only, so the gate never allocates for them.
    enum Outcome {
        /// A rule matched and its values converted; the capture buffer holds its value ranges.
        case rule(Int)
        /// `RequestPath`: redirect to the path plus `/` (a non-strict rule for `path/`).
        case redirectWithSlash
        /// `RequestPath`: redirect to the path with its slashes merged (plus `/` if `slash`).
        case redirectMerged(slash: Bool)
        /// `NoMatch`; `haveMatchFor` is the mask of the methods the path has rules for, `websocketMismatch`
        /// whether a rule matched path and method but was of the other kind (WebSocket or not).
        case noMatch(haveMatchFor: UInt64, websocketMismatch: Bool)
        /// The walk spent its work budget (`gateWork`) before deciding: only the gate walks with one.
        case overBudget
    }

    /// The work a gate walk may spend on a path of `count` bytes (`RouteWalk.work`): linear in the path, and far
    /// above what a linear walk takes (a few steps per byte per rule reaching it), so that it stops only the
    /// quadratic backtracking some rules allow (two converters spanning segments, `PartWalk`) before it holds the
    /// event loop. 16 KiB: about 1.1 M steps, a few milliseconds of native walk or about 40 ms of ICU.
    @inline(__always)
    static func gateWork(pathCount: Int) -> Int { 65_536 + 64 * pathCount }

    /// The number of capture ints that fit the fixed-size stack buffer of `withCaptures`.
    private static var stackCaptureSlots: Int { 64 }

    /// Runs `body` with a scratch capture stack for one walk. A constant-size temporary allocation is
    /// a plain stack slot; a variable size costs a runtime "is it safe on the stack" check per call.
    @inline(__always)
    func withCaptures<Result>(_ body: (UnsafeMutablePointer<Int>) -> Result) -> Result {
        if captureSlots <= Self.stackCaptureSlots {
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { body($0.baseAddress!) }
        }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: captureSlots) { body($0.baseAddress!) }
    }

    /// `StateMachineMatcher.match(domain, path, method, websocket)` plus `to_python` validation.
    /// - Parameter bounded: Whether each walk may spend only `gateWork` (the gate); `match` walks unbounded.
    func resolve(
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>,
        methodBit: UInt64,
        websocket: Bool,
        captures: UnsafeMutablePointer<Int>,
        bounded: Bool = false,
        spent: UnsafeMutablePointer<Int>? = nil
    ) -> Outcome {
        var walk = RouteWalk(
            machine: machine,
            domain: domain,
            path: path,
            methodBit: methodBit,
            websocket: websocket,
            captures: captures,
            work: bounded ? Self.gateWork(pathCount: path.count) : .max
        )
        let first = walk.run()
        if let spent { spent.pointee = Self.spent(walk, bounded: bounded, pathCount: path.count) }
        if first == RouteStateMachine.slashRequired { return .redirectWithSlash }
        if first >= 0 {
            // A `ValidationError` raises `NoMatch(have_match_for, websocket_mismatch)` with what the walk
            // collected before it reached the rule.
            guard
                !machine.tables.flags[Int(first)].needsValidation
                    || RouteValues.validate(rules[Int(first)], captures: captures, domain: domain, path: path)
            else { return .noMatch(haveMatchFor: walk.haveMatchFor, websocketMismatch: walk.websocketMismatch) }
            return .rule(Int(first))
        }
        if first == RouteStateMachine.overBudget { return .overBudget }
        if mapMergeSlashes, Self.hasDoubleSlash(path) {
            let merged = Self.mergeSlashes(path)
            let second = merged.withUnsafeBufferPointer { mergedPath in
                var again = RouteWalk(
                    machine: machine,
                    domain: domain,
                    path: mergedPath,
                    methodBit: methodBit,
                    websocket: websocket,
                    captures: captures,
                    work: bounded ? Self.gateWork(pathCount: mergedPath.count) : .max
                )
                again.haveMatchFor = walk.haveMatchFor
                again.websocketMismatch = walk.websocketMismatch
                let result = again.run()
                if let spent { spent.pointee += Self.spent(again, bounded: bounded, pathCount: mergedPath.count) }
                walk.haveMatchFor = again.haveMatchFor
                walk.websocketMismatch = again.websocketMismatch
                return result
            }
            if second == RouteStateMachine.overBudget { return .overBudget }
            if second == RouteStateMachine.slashRequired { return .redirectMerged(slash: true) }
            if second >= 0, rules[Int(second)].source.mergeSlashes { return .redirectMerged(slash: false) }
        }
        return .noMatch(haveMatchFor: walk.haveMatchFor, websocketMismatch: walk.websocketMismatch)
    }

    private static func spent(_ walk: RouteWalk, bounded: Bool, pathCount: Int) -> Int {
        (bounded ? gateWork(pathCount: pathCount) : .max) - walk.work
    }

    /// `RouteMatcher.gate` over the target's bytes.
    func gate(method: String, utf8: UnsafeBufferPointer<UInt8>, host: String, websocket: Bool) -> RouteGateDecision {
        let methodBit = methods.bit(method)
        if domainIsFixed, let fast = RequestTarget.fastPath(utf8) {
            guard hostBinds(host) else { return .badHost }
            let path = UnsafeBufferPointer(rebasing: utf8[fast.path])
            let domain = UnsafeBufferPointer(machine.defaultDomain)
            // unowned(unsafe): `self` is alive for the whole call; a strong capture made the optimizer
            // retain and release it around the closure on every request.
            unowned(unsafe) let compiled = self
            return decision(
                withCaptures {
                    compiled.resolve(
                        domain: domain,
                        path: path,
                        methodBit: methodBit,
                        websocket: websocket,
                        captures: $0,
                        bounded: true
                    )
                }
            )
        }
        let request = RequestTarget(utf8)
        guard let bound = binding.bind(host: request.hostOverride ?? host) else { return .badHost }
        let outcome = withCaptures { captures in
            Array(bound.domain.utf8).withUnsafeBufferPointer { domain in
                if let decoded = request.decodedPath {
                    return decoded.withUnsafeBufferPointer { path in
                        resolve(
                            domain: domain,
                            path: path,
                            methodBit: methodBit,
                            websocket: websocket,
                            captures: captures,
                            bounded: true
                        )
                    }
                }
                let path = UnsafeBufferPointer(rebasing: utf8[request.pathStart..<request.pathEnd])
                return resolve(
                    domain: domain,
                    path: path,
                    methodBit: methodBit,
                    websocket: websocket,
                    captures: captures,
                    bounded: true
                )
            }
        }
        return decision(outcome)
    }

    @inline(__always)
    private func decision(_ outcome: Outcome) -> RouteGateDecision {
        switch outcome {
        case .rule(let index): .forward(rule: index)
        case .redirectWithSlash, .redirectMerged: .forward(rule: nil)
        // `MapAdapter.match` checks `have_match_for` (405) before `websocket_mismatch` (400).
        case .noMatch(let have, _) where have != 0: .methodNotAllowed(allowed: methods.allowed(have))
        // The app answers its own `WebsocketMismatch` 400 for a URL it declares.
        case .noMatch(_, true): .forward(rule: nil)
        case .noMatch: .notFound
        // Too costly to decide here (the budget protects the event loop): the app decides, and nobody is struck.
        case .overBudget: .forward(rule: nil)
        }
    }

    /// Whether `Map.bind` accepts the host (no `BadHost`), checked without copying it.
    private func hostBinds(_ host: String) -> Bool {
        if let serverNameBinds { return serverNameBinds }
        return host.utf8.span.withUnsafeBufferPointer(HostBinding.hostBinds)
    }

    static func hasDoubleSlash(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard path.count > 1 else { return false }
        for index in 1..<path.count where path[index] == UInt8(ascii: "/") && path[index - 1] == UInt8(ascii: "/") {
            return true
        }
        return false
    }

    /// `re.sub("/{2,}", "/", path)`.
    static func mergeSlashes(_ path: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        for byte in path where !(byte == UInt8(ascii: "/") && out.last == UInt8(ascii: "/")) { out.append(byte) }
        return out
    }
}
