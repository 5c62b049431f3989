/// Werkzeug-compatible router over a `RouteTable`: decides what Werkzeug 3.1's `MapAdapter.match` would,
/// for a request reaching Flask 3.1 through the Werkzeug dev server.
///
/// Known limits: a custom converter's `to_python`/`to_url` cannot run here (its regex decides the match
/// and the matched string is the argument); requests are never WebSocket requests (a WebSocket-only match
/// and Werkzeug's `BadHost`, both 400 there, are `.notFound` here); a converter matching `/` in a host
/// rule is rejected when compiling.
public struct RouteMatcher: Sendable {
    /// Everything compiled, behind one reference so that copying the matcher (into closures, per call)
    /// costs one reference count instead of one per field.
    final class Compiled: Sendable {
        let table: RouteTable
        let rules: [CompiledRule]
        let machine: RouteStateMachine
        let methodNames: [String]
        let methodBits: [String: Int]
        let binding: HostBinding
        /// `Map.merge_slashes`.
        let mapMergeSlashes: Bool
        /// `_rules_by_endpoint`: table indices per endpoint, sorted by `build_compare_key` (stable).
        let rulesByEndpoint: [String: [Int]]

        init(
            table: RouteTable, rules: [CompiledRule], machine: RouteStateMachine, methodNames: [String],
            methodBits: [String: Int], binding: HostBinding, mapMergeSlashes: Bool, rulesByEndpoint: [String: [Int]]
        ) {
            self.table = table
            self.rules = rules
            self.machine = machine
            self.methodNames = methodNames
            self.methodBits = methodBits
            self.binding = binding
            self.mapMergeSlashes = mapMergeSlashes
            self.rulesByEndpoint = rulesByEndpoint
        }
    }

    let compiled: Compiled

    /// The table this matcher was compiled from.
    public var table: RouteTable { compiled.table }
    var rules: [CompiledRule] { compiled.rules }
    var machine: RouteStateMachine { compiled.machine }
    var methodNames: [String] { compiled.methodNames }
    var methodBits: [String: Int] { compiled.methodBits }
    var binding: HostBinding { compiled.binding }
    var mapMergeSlashes: Bool { compiled.mapMergeSlashes }
    var rulesByEndpoint: [String: [Int]] { compiled.rulesByEndpoint }

    /// Compiles the table's rules.
    /// - Throws: `RouteError` when a rule cannot be parsed.
    public init(table: RouteTable) throws(RouteError) {
        var compiled: [CompiledRule] = []
        compiled.reserveCapacity(table.rules.count)
        for (index, rule) in table.rules.enumerated() {
            compiled.append(try CompiledRule(rule, tableIndex: index, table: table))
        }
        var names: [String] = []
        var bits: [String: Int] = [:]
        for rule in table.rules {
            for method in rule.methods ?? [] where bits[method] == nil {
                guard names.count < 64 else {
                    throw .malformedRule(rule: rule.rule, reason: "more than 64 distinct methods")
                }
                bits[method] = names.count
                names.append(method)
            }
        }
        let order = table.rules.indices.sorted {
            (table.rules[$0].registrationIndex ?? $0, $0) < (table.rules[$1].registrationIndex ?? $1, $1)
        }
        var byEndpoint: [String: [Int]] = [:]
        for index in order { byEndpoint[table.rules[index].endpoint, default: []].append(index) }
        for (endpoint, indices) in byEndpoint {
            byEndpoint[endpoint] = indices.enumerated().sorted {
                let left = compiled[$0.element].buildCompareKey
                let right = compiled[$1.element].buildCompareKey
                return left != right ? left < right : $0.offset < $1.offset
            }.map(\.element)
        }
        self.compiled = Compiled(
            table: table, rules: compiled, machine: RouteStateMachine(
                rules: compiled, order: order, methodNames: names, methodBits: bits,
                defaultDomain: table.defaultSubdomain),
            methodNames: names, methodBits: bits, binding: HostBinding(table: table), mapMergeSlashes: table.mergeSlashes,
            rulesByEndpoint: byEndpoint)
    }

    /// Judges one request as Werkzeug would.
    /// - Parameters:
    ///   - method: The request method, any case.
    ///   - target: The raw request target (`/a%2Fb?x=1`), as sent on the request line.
    ///   - host: The `Host` header (`localhost`, `api.example.com:8080`).
    /// - Returns: The verdict.
    public func match(method: String, target: String, host: String = "localhost") -> RouteVerdict {
        var target = target
        return target.withUTF8 { utf8 in
            let request = RequestTarget(utf8)
            guard let bound = binding.bind(host: request.hostOverride ?? host) else { return .notFound }
            let methodName = Self.upper(method)
            let methodBit = methodBits[methodName].map { UInt64(1) << UInt64($0) } ?? 0
            let query = Self.query(request, utf8)
            return withPath(request, utf8) { path in
                Array(bound.domain.utf8).withUnsafeBufferPointer { domain in
                    resolve(domain: domain, path: path, methodBit: methodBit) { outcome in
                        verdict(outcome, domain: domain, path: path, method: methodName, bound: bound, query: query)
                    }
                }
            }
        }
    }

    /// The proxy hot path: the same outcome as `match` without arguments or redirect URLs.
    /// - Parameters:
    ///   - method: The request method, any case.
    ///   - target: The raw request target, as received.
    ///   - host: The `Host` header.
    /// - Returns: Whether to forward the request, or the 404/405 Werkzeug would answer.
    public func gate(method: String, target: String, host: String = "localhost") -> RouteGateDecision {
        if let decision = target.utf8.withContiguousStorageIfAvailable({ gate(method: method, utf8: $0, host: host) }) {
            return decision
        }
        var copy = target
        return copy.withUTF8 { gate(method: method, utf8: $0, host: host) }
    }

    private func gate(method: String, utf8: UnsafeBufferPointer<UInt8>, host: String) -> RouteGateDecision {
        let compiled = self.compiled
        let methodBit = methodBit(method)
        if !compiled.binding.hostMatching, !compiled.binding.subdomainMatching {
            // The common Flask case: the domain is the default subdomain; the host only has to bind.
            if let fast = RequestTarget.fastPath(utf8) {
                guard hostBinds(host) else { return .notFound }
                let path = UnsafeBufferPointer(rebasing: utf8[fast.path])
                let domain = UnsafeBufferPointer(compiled.machine.defaultDomain)
                return resolve(domain: domain, path: path, methodBit: methodBit) { gateDecision($0) }
            }
        }
        let request = RequestTarget(utf8)
        guard let bound = compiled.binding.bind(host: request.hostOverride ?? host) else { return .notFound }
        return withPath(request, utf8) { path in
            Array(bound.domain.utf8).withUnsafeBufferPointer { domain in
                resolve(domain: domain, path: path, methodBit: methodBit) { gateDecision($0) }
            }
        }
    }

    // MARK: - The match

    /// What `StateMachineMatcher.match` ends with.
    enum Outcome {
        /// A rule matched and its values converted; `captures` holds its value ranges.
        case rule(Int, captures: UnsafeMutablePointer<Int>)
        /// `RequestPath`: redirect to this path (already `path/` or the merged path).
        case requestPath([UInt8])
        /// `NoMatch`.
        case noMatch(haveMatchFor: UInt64, websocketMismatch: Bool)
    }

    private func resolve<Result>(
        domain: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>, methodBit: UInt64,
        _ body: (Outcome) -> Result
    ) -> Result {
        let machine = compiled.machine
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * machine.maxCaptures + 2) { captureBuffer in
            let captures = captureBuffer.baseAddress!
            var walk = RouteWalk(machine: machine, domain: domain, path: path, methodBit: methodBit, captures: captures)
            let first = walk.run()
            if first == RouteStateMachine.slashRequired {
                return body(.requestPath(Array(path) + [UInt8(ascii: "/")]))
            }
            if first >= 0 {
                guard !machine.flags[Int(first)].needsValidation
                    || RouteValues.validate(rules[Int(first)], captures: captures, domain: domain, path: path)
                else {
                    return body(.noMatch(haveMatchFor: walk.haveMatchFor, websocketMismatch: walk.websocketMismatch))
                }
                return body(.rule(Int(first), captures: captures))
            }
            if mapMergeSlashes, Self.hasDoubleSlash(path) {
                let merged = Self.mergeSlashes(path)
                let second = merged.withUnsafeBufferPointer { mergedPath in
                    var again = RouteWalk(
                        machine: machine, domain: domain, path: mergedPath, methodBit: methodBit, captures: captures)
                    again.haveMatchFor = walk.haveMatchFor
                    again.websocketMismatch = walk.websocketMismatch
                    let result = again.run()
                    walk.haveMatchFor = again.haveMatchFor
                    walk.websocketMismatch = again.websocketMismatch
                    return result
                }
                if second == RouteStateMachine.slashRequired {
                    return body(.requestPath(merged + [UInt8(ascii: "/")]))
                }
                if second >= 0, rules[Int(second)].source.mergeSlashes {
                    return body(.requestPath(merged))
                }
            }
            return body(.noMatch(haveMatchFor: walk.haveMatchFor, websocketMismatch: walk.websocketMismatch))
        }
    }

    private func gateDecision(_ outcome: Outcome) -> RouteGateDecision {
        switch outcome {
        case .rule, .requestPath: .forward
        case .noMatch(let have, _): have != 0 ? .methodNotAllowed(allowed: allowedMethods(have)) : .notFound
        }
    }

    private func verdict(
        _ outcome: Outcome, domain: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>, method: String,
        bound: HostBinding.Bound, query: String
    ) -> RouteVerdict {
        switch outcome {
        case .noMatch(let have, _):
            return have != 0 ? .methodNotAllowed(allowed: allowedMethods(have)) : .notFound
        case .requestPath(let newPath):
            let quoted = RouteURLBuilding.quote(String(decoding: newPath, as: UTF8.self))
            return .redirect(location: RouteRedirects.makeRedirectURL(quoted, query: query, bound: bound, table: table))
        case .rule(let index, let captures):
            let rule = rules[index]
            let arguments = RouteValues.arguments(rule, captures: captures, domain: domain, path: path)
            let redirects = RouteRedirects(matcher: self, bound: bound, query: query)
            if let location = redirects.redirect(for: rule, arguments: arguments, method: method, path: path) {
                return .redirect(location: location)
            }
            return .match(endpoint: rule.source.endpoint, ruleIndex: index, arguments: arguments)
        }
    }

    // MARK: - Helpers

    func allowedMethods(_ mask: UInt64) -> [String] {
        methodNames.indices.filter { mask & (UInt64(1) << UInt64($0)) != 0 }.map { methodNames[$0] }.sorted()
    }

    /// The method's bit, comparing packed upper-cased ASCII without building the upper-cased string.
    private func methodBit(_ method: String) -> UInt64 {
        let packed: UInt64? = method.utf8.withContiguousStorageIfAvailable { utf8 in
            guard utf8.count <= 8 else { return nil }
            for byte in utf8 where byte >= 0x80 { return nil }
            return RouteStateMachine.pack(utf8)
        } ?? nil
        guard let packed else { return methodBits[Self.upper(method)].map { UInt64(1) << UInt64($0) } ?? 0 }
        var index = 0
        let methods = compiled.machine.packedMethods
        while index < compiled.methodNames.count {
            if methods[index] == packed { return UInt64(1) << UInt64(index) }
            index += 1
        }
        return 0
    }

    /// Python's `str.upper()`.
    static func upper(_ method: String) -> String { method.uppercased() }

    /// Whether `Map.bind` accepts the host (no `BadHost`), checked without copying it.
    private func hostBinds(_ host: String) -> Bool {
        if compiled.binding.serverName != nil { return compiled.binding.serverNameIsValid }
        if let valid = host.utf8.withContiguousStorageIfAvailable(HostBinding.hostBinds) { return valid }
        var copy = host
        return copy.withUTF8(HostBinding.hostBinds)
    }

    private static func query(_ request: RequestTarget, _ utf8: UnsafeBufferPointer<UInt8>) -> String {
        guard request.queryEnd > request.queryStart else { return "" }
        if let slow = request.slowTarget {
            return String(decoding: slow[request.queryStart..<request.queryEnd], as: UTF8.self)
        }
        return String(decoding: utf8[request.queryStart..<request.queryEnd], as: UTF8.self)
    }

    private func withPath<Result>(
        _ request: RequestTarget, _ utf8: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let decoded = request.decodedPath { return decoded.withUnsafeBufferPointer(body) }
        return body(UnsafeBufferPointer(rebasing: utf8[request.pathStart..<request.pathEnd]))
    }

    private static func hasDoubleSlash(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard path.count > 1 else { return false }
        for index in 1..<path.count where path[index] == UInt8(ascii: "/") && path[index - 1] == UInt8(ascii: "/") {
            return true
        }
        return false
    }

    private static func mergeSlashes(_ path: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        for byte in path where !(byte == UInt8(ascii: "/") && out.last == UInt8(ascii: "/")) { out.append(byte) }
        return out
    }
}
