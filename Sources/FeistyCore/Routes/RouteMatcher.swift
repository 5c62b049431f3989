/// Werkzeug-compatible router over a `RouteTable`: decides what Werkzeug 3.1's `MapAdapter.match` would,
/// for a request reaching Flask 3.1 through the Werkzeug dev server.
///
/// WebSocket handshakes are the caller's word (`websocket:`, see `isWebSocketHandshake`), as
/// `Map.bind_to_environ` decides them from `Connection` and `Upgrade`: rules only match requests of their
/// own kind, and a path whose only rules are of the other kind is Werkzeug's `WebsocketMismatch` (400).
///
/// Known limits: a custom converter's own `to_python`/`to_url` cannot run here: `match` takes its regex's match
/// and the matched string as the argument, `matchNatively` names the rule so the caller can ask the app's
/// interpreter, and the gate forwards such requests (the app decides); a converter
/// matching `/` in a host rule is rejected when compiling; the request scheme is always `http` (`ws` for a
/// WebSocket handshake), as behind the dev server without TLS.
public struct RouteMatcher: Sendable {
    /// Everything compiled, behind one reference so that copying the matcher (into closures, per call)
    /// costs one reference count instead of one per field.
    final class Compiled: Sendable {
        let table: RouteTable
        let rules: [CompiledRule]
        let machine: RouteStateMachine
        let methods: RouteMethods
        let binding: HostBinding
        /// `Map.merge_slashes`.
        let mapMergeSlashes: Bool
        /// `_rules_by_endpoint`: table indices per endpoint, sorted by `build_compare_key` (stable).
        let rulesByEndpoint: [String: [Int]]
        /// Neither host nor subdomain matching: the domain part is always the default subdomain, so the
        /// host only has to bind (the common Flask configuration, and the gate's fast path).
        let domainIsFixed: Bool
        /// With `SERVER_NAME` configured, whether it binds (the same answer for every request).
        let serverNameBinds: Bool?
        /// Ints a walk's capture stack needs (two per converter group, plus slack).
        let captureSlots: Int
        /// Per rule: its verdict needs the app's interpreter (`PythonConverterRules`).
        let pythonRules: [Bool]

        init(
            table: RouteTable,
            rules: [CompiledRule],
            machine: RouteStateMachine,
            methods: RouteMethods,
            binding: HostBinding,
            rulesByEndpoint: [String: [Int]]
        ) {
            self.table = table
            self.rules = rules
            self.machine = machine
            self.methods = methods
            self.binding = binding
            self.mapMergeSlashes = table.mergeSlashes
            self.rulesByEndpoint = rulesByEndpoint
            self.domainIsFixed = !binding.hostMatching && !binding.subdomainMatching
            self.serverNameBinds = binding.serverName.map { HostBinding.idnaValid($0) }
            self.captureSlots = 2 * machine.maxCaptures + 2
            self.pythonRules = PythonConverterRules.flags(table)
        }
    }

    let compiled: Compiled

    /// The table this matcher was compiled from.
    public var table: RouteTable { compiled.table }
    var rules: [CompiledRule] { compiled.rules }
    var rulesByEndpoint: [String: [Int]] { compiled.rulesByEndpoint }

    /// Compiles the table's rules.
    /// - Throws: `RouteError` when a rule cannot be parsed.
    public init(table: RouteTable) throws(RouteError) {
        var compiled: [CompiledRule] = []
        compiled.reserveCapacity(table.rules.count)
        for (index, rule) in table.rules.enumerated() {
            compiled.append(try CompiledRule(rule, tableIndex: index, table: table))
        }
        let methods = try RouteMethods(rules: table.rules)
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
        let machine = RouteStateMachine(
            rules: compiled,
            order: order,
            methods: methods,
            defaultDomain: table.defaultSubdomain
        )
        self.compiled = Compiled(
            table: table,
            rules: compiled,
            machine: machine,
            methods: methods,
            binding: HostBinding(table: table),
            rulesByEndpoint: byEndpoint
        )
    }

    /// Judges one request as Werkzeug would.
    /// - Parameters:
    ///   - method: The request method, any case.
    ///   - target: The raw request target (`/a%2Fb?x=1`), as sent on the request line.
    ///   - host: The `Host` header (`localhost`, `api.example.com:8080`).
    ///   - websocket: Whether the request is a WebSocket handshake (`isWebSocketHandshake`): Werkzeug then
    ///     binds the `ws` scheme, matches `websocket=True` rules only and builds its redirects with `ws://`.
    /// - Returns: The verdict.
    public func match(
        method: String,
        target: String,
        host: String = "localhost",
        websocket: Bool = false
    ) -> RouteVerdict {
        guard case .verdict(let verdict) = judge(method, target, host, websocket, deferringPython: false) else {
            preconditionFailure("a verdict is always given when not deferring")
        }
        return verdict
    }

    /// `match`, except for a request that reaches a rule whose verdict needs the app's interpreter (a custom
    /// converter with its own `to_python`/`to_url`, `PythonConverterRules`): that rule is named instead.
    public func matchNatively(
        method: String,
        target: String,
        host: String = "localhost",
        websocket: Bool = false
    ) -> NativeVerdict {
        judge(method, target, host, websocket, deferringPython: true)
    }

    private func judge(
        _ method: String,
        _ target: String,
        _ host: String,
        _ websocket: Bool,
        deferringPython: Bool
    ) -> NativeVerdict {
        target.utf8.span.withUnsafeBufferPointer { utf8 in
            let request = RequestTarget(utf8)
            guard let bound = compiled.binding.bind(host: request.hostOverride ?? host) else {
                return .verdict(.badHost)
            }
            let methodBit = compiled.methods.bit(method)
            let query = Self.query(request, utf8)
            return withPath(request, utf8) { path in
                Array(bound.domain.utf8).withUnsafeBufferPointer { domain in
                    compiled.withCaptures { captures in
                        let outcome = compiled.resolve(
                            domain: domain,
                            path: path,
                            methodBit: methodBit,
                            websocket: websocket,
                            captures: captures
                        )
                        return verdict(
                            outcome,
                            captures: captures,
                            domain: domain,
                            path: path,
                            method: method,
                            bound: bound,
                            query: query,
                            websocket: websocket,
                            deferringPython: deferringPython
                        )
                    }
                }
            }
        }
    }

    /// The proxy hot path: the same outcome as `match` without arguments or redirect URLs.
    ///
    /// A WebSocket mismatch (only rules of the other kind match path and method) is forwarded
    /// (`.forward(rule: nil)`): the URL is declared, and the app answers the same `WebsocketMismatch` 400
    /// itself. It comes after the 405 check, as in `MapAdapter.match`.
    /// - Parameters:
    ///   - method: The request method, any case.
    ///   - target: The raw request target, as received.
    ///   - host: The `Host` header.
    ///   - websocket: Whether the request is a WebSocket handshake (`isWebSocketHandshake`).
    /// - Returns: Whether to forward the request, or the 404/405 (or `BadHost` 400) Werkzeug would answer.
    public func gate(
        method: String,
        target: String,
        host: String = "localhost",
        websocket: Bool = false
    ) -> RouteGateDecision {
        // `utf8.span` borrows the string's bytes in place (small strings included): unlike
        // `withContiguousStorageIfAvailable` or `withUTF8`, it copies and retains nothing.
        target.utf8.span.withUnsafeBufferPointer {
            compiled.gate(method: method, utf8: $0, host: host, websocket: websocket)
        }
    }

    private func verdict(
        _ outcome: Compiled.Outcome,
        captures: UnsafeMutablePointer<Int>,
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>,
        method: String,
        bound: HostBinding.Bound,
        query: String,
        websocket: Bool,
        deferringPython: Bool
    ) -> NativeVerdict {
        let newPath: [UInt8]
        // `bind_to_environ` turns `http` into `ws` for a handshake, and `make_redirect_url` uses that scheme.
        let scheme = websocket ? "ws" : "http"
        switch outcome {
        case .noMatch(let have, _) where have != 0:
            return .verdict(.methodNotAllowed(allowed: compiled.methods.allowed(have)))
        case .noMatch(_, let websocketMismatch):
            return .verdict(websocketMismatch ? .websocketMismatch : .notFound)
        case .overBudget:
            preconditionFailure("match walks without a work budget")
        case .redirectWithSlash:
            newPath = Array(path) + [UInt8(ascii: "/")]
        case .redirectMerged(let slash):
            newPath = Compiled.mergeSlashes(path) + (slash ? [UInt8(ascii: "/")] : [])
        case .rule(let index):
            if deferringPython, compiled.pythonRules[index] { return .needsPython(ruleIndex: index) }
            let rule = rules[index]
            let arguments = RouteValues.arguments(rule, captures: captures, domain: domain, path: path)
            let redirects = RouteRedirects(matcher: self, bound: bound, query: query, scheme: scheme)
            let methodName = Self.upper(method)
            if let location = redirects.redirect(for: rule, arguments: arguments, method: methodName, path: path) {
                return .verdict(.redirect(location: location))
            }
            return .verdict(.match(endpoint: rule.source.endpoint, ruleIndex: index, arguments: arguments))
        }
        let quoted = RouteURLBuilding.quote(String(decoding: newPath, as: UTF8.self))
        return .verdict(
            .redirect(
                location: RouteRedirects.makeRedirectURL(
                    quoted,
                    query: query,
                    bound: bound,
                    table: table,
                    scheme: scheme
                )
            )
        )
    }

    // MARK: - Helpers

    /// Python's `str.upper()`.
    static func upper(_ method: String) -> String { method.uppercased() }

    private static func query(_ request: RequestTarget, _ utf8: UnsafeBufferPointer<UInt8>) -> String {
        guard request.queryEnd > request.queryStart else { return "" }
        if let slow = request.slowTarget {
            return String(decoding: slow[request.queryStart..<request.queryEnd], as: UTF8.self)
        }
        return String(decoding: utf8[request.queryStart..<request.queryEnd], as: UTF8.self)
    }

    private func withPath<Result>(
        _ request: RequestTarget,
        _ utf8: UnsafeBufferPointer<UInt8>,
        _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let decoded = request.decodedPath { return decoded.withUnsafeBufferPointer(body) }
        return body(UnsafeBufferPointer(rebasing: utf8[request.pathStart..<request.pathEnd]))
    }
}
