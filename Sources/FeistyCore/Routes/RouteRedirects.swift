/// The redirects `MapAdapter.match` raises after a rule matched: the alias redirect
/// (`make_alias_redirect_url`), the defaults redirect (`get_default_redirect`) and `redirect_to`.
struct RouteRedirects {
    let matcher: RouteMatcher
    let bound: HostBinding.Bound
    let query: String
    /// `MapAdapter.url_scheme`: `http`, or `ws` when `bind_to_environ` saw a WebSocket handshake.
    let scheme: String

    /// `MapAdapter.make_redirect_url(path_info, query_args, domain_part)`.
    static func makeRedirectURL(
        _ pathInfo: String,
        query: String,
        bound: HostBinding.Bound,
        table: RouteTable,
        scheme: String,
        domainPart: String? = nil
    ) -> String {
        let host = Self.host(domainPart, bound: bound, hostMatching: table.hostMatching)
        let path = "/" + pathInfo.drop { $0 == "/" }
        return scheme + "://" + host + path + (query.isEmpty ? "" : "?" + query)
    }

    /// `MapAdapter.get_host(domain_part)`.
    static func host(_ domainPart: String?, bound: HostBinding.Bound, hostMatching: Bool) -> String {
        if hostMatching { return domainPart ?? bound.serverName }
        let subdomain = domainPart ?? bound.subdomain ?? ""
        return subdomain.isEmpty ? bound.serverName : "\(subdomain).\(bound.serverName)"
    }

    /// The redirect location for a matched rule, or `nil` when the match stands.
    func redirect(
        for rule: CompiledRule,
        arguments: [(name: String, value: JSONValue)],
        method: String,
        path: UnsafeBufferPointer<UInt8>
    ) -> String? {
        let table = matcher.table
        if rule.source.alias, table.redirectDefaults {
            return aliasRedirect(endpoint: rule.source.endpoint, values: arguments, method: method)
        }
        if table.redirectDefaults, let location = defaultRedirect(rule, method: method, values: arguments) {
            return location
        }
        if let target = rule.source.redirectTo {
            guard let substituted = try? substitute(target, rule: rule, values: arguments) else { return nil }
            let subdomain = bound.subdomain ?? ""
            let netloc = subdomain.isEmpty ? bound.serverName : "\(subdomain).\(bound.serverName)"
            return RouteURLBuilding.urljoin(scheme: scheme, netloc: netloc, substituted)
        }
        return nil
    }

    /// `_simple_rule_re.sub(...)` over a `redirect_to` string.
    private func substitute(_ target: String, rule: CompiledRule, values: [(name: String, value: JSONValue)])
        throws(RouteURLBuilding.BuildFailure) -> String
    {
        var out = ""
        var rest = Substring(target)
        while let open = rest.firstIndex(of: "<") {
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: ">"), close > afterOpen else {
                out += rest[...open]
                rest = rest[afterOpen...]
                continue
            }
            out += rest[..<open]
            let name = String(rest[afterOpen..<close])
            guard let value = values.last(where: { $0.name == name })?.value, let converter = rule.converters[name]
            else {
                throw RouteURLBuilding.BuildFailure()
            }
            out += try RouteURLBuilding.toURL(converter, value)
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// `Rule.provides_defaults_for` + `suitable_for`, then `build` and `make_redirect_url`.
    private func defaultRedirect(_ rule: CompiledRule, method: String, values: [(name: String, value: JSONValue)])
        -> String?
    {
        for index in matcher.rulesByEndpoint[rule.source.endpoint] ?? [] {
            if index == rule.tableIndex { break }
            let candidate = matcher.rules[index]
            guard let defaults = candidate.source.defaults, !defaults.isEmpty, candidate.trace != rule.trace,
                candidate.arguments == rule.arguments, suitable(candidate, values: values, method: method)
            else { continue }
            var merged = values
            for key in defaults.keys.sorted() {
                if let existing = merged.firstIndex(where: { $0.name == key }) {
                    merged[existing].value = defaults[key]!
                } else {
                    merged.append((key, defaults[key]!))
                }
            }
            guard let (domain, path) = try? RouteURLBuilding.build(candidate, merged.map { ($0.name, $0.value) }) else {
                return nil
            }
            return Self.makeRedirectURL(
                path,
                query: query,
                bound: bound,
                table: matcher.table,
                scheme: scheme,
                domainPart: domain
            )
        }
        return nil
    }

    /// `Rule.suitable_for(values, method)`.
    private func suitable(_ rule: CompiledRule, values: [(name: String, value: JSONValue)], method: String?) -> Bool {
        if let method, let methods = rule.source.methods, !methods.contains(method) { return false }
        let defaults = rule.source.defaults ?? [:]
        for key in rule.arguments where defaults[key] == nil && !values.contains(where: { $0.name == key }) {
            return false
        }
        for (key, value) in defaults {
            if let given = values.last(where: { $0.name == key })?.value, !Self.pythonEqual(value, given) {
                return false
            }
        }
        return true
    }

    /// `make_alias_redirect_url`: `build(endpoint, values, method, append_unknown=False, force_external=True)`.
    private func aliasRedirect(endpoint: String, values: [(name: String, value: JSONValue)], method: String) -> String?
    {
        let filtered = values.filter { $0.value != .null }
        var chosen: (String, String, websocket: Bool)?
        for index in matcher.rulesByEndpoint[endpoint] ?? [] {
            let candidate = matcher.rules[index]
            guard suitable(candidate, values: filtered, method: method),
                let built = try? RouteURLBuilding.build(candidate, filtered.map { ($0.name, $0.value) })
            else { continue }
            let candidateBuilt = (built.0, built.1, websocket: candidate.source.websocket)
            if matcher.table.hostMatching {
                if built.0 == bound.serverName {
                    chosen = candidateBuilt
                    break
                }
                if chosen == nil { chosen = candidateBuilt }
            } else {
                chosen = candidateBuilt
                break
            }
        }
        guard let (domain, path, websocket) = chosen else { return nil }
        let host = Self.host(domain, bound: bound, hostMatching: matcher.table.hostMatching)
        // `build` picks the scheme by the built rule's kind, whatever the request's: `ws` for a WebSocket
        // rule, else `http` (never `https`/`wss`: the dev server here has no TLS).
        var url = (websocket ? "ws://" : "http://") + host + "/" + path.drop { $0 == "/" }
        if !query.isEmpty { url += "?" + query }
        return url
    }

    /// Python `==` between JSON-ish values (numbers compare across int, float and bool).
    static func pythonEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        func number(_ value: JSONValue) -> Double? {
            switch value {
            case .int(let number): Double(number)
            case .double(let number): number
            case .bool(let flag): flag ? 1 : 0
            case .bigInteger(let digits): Double(digits)
            default: nil
            }
        }
        if let left = number(lhs), let right = number(rhs) {
            if case .int(let a) = lhs, case .int(let b) = rhs { return a == b }
            if case .bigInteger(let a) = lhs, case .bigInteger(let b) = rhs { return a == b }
            return left == right
        }
        return lhs == rhs
    }
}
