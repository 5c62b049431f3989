/// Everything feisty knows about a Flask app's URL map: the rules in registration order plus the
/// map-level settings that change how Werkzeug matches them.
///
/// This is the contract between the Python probe (which reads `app.url_map` or the source) and the
/// Swift matcher, and it is exactly what `feisty routes --json` prints. Keys are snake_case.
public struct RouteTable: Sendable, Hashable, Codable {
    /// The port of the `app.run(...)` call found in the source (5000 when the call gives none, as Flask); `nil`
    /// when there is no such call (`runCall` is `nil` too) or its port cannot be known (`unresolved` says why).
    public var port: Int?
    /// The host of the `app.run(...)` call found in the source (`nil`: Flask's default, 127.0.0.1, or no call).
    public var host: String?
    /// Where that `app.run(...)`/`run_simple(...)` call is (`file:line`); `nil`: the source has none (a script run
    /// directly, a package's `__main__.py` for a package) and `feisty run` listens on 127.0.0.1:5000.
    public var runCall: String?
    /// The rules in registration order: the order Werkzeug breaks ties in.
    public var rules: [RouteRule]
    /// `app.url_map.host_matching`: rules match on `host` instead of `subdomain`.
    public var hostMatching: Bool
    /// `app.subdomain_matching`: without it Flask binds every request to the default subdomain.
    public var subdomainMatching: Bool
    /// `app.config["SERVER_NAME"]`, used for subdomain matching.
    public var serverName: String?
    /// `app.url_map.default_subdomain`.
    public var defaultSubdomain: String
    /// `app.url_map.redirect_defaults`: a rule reached with its default values redirects to the alias.
    public var redirectDefaults: Bool
    /// `app.url_map.merge_slashes`: whether a path that matches only after merging `//` redirects to
    /// the merged path (the per-rule setting decides the redirect, this one whether it is tried).
    public var mergeSlashes: Bool
    /// How the table was obtained: `"runtime"` (the app was imported) or `"static"` (source parsed).
    public var source: String
    /// What static extraction could not resolve, one human-readable line each.
    public var unresolved: [String]
    /// Where the app's interpreter's `re` `\d` holds, as inclusive hex code point ranges (`"30-39,660-669,..."`):
    /// the digits the int and float converters accept, from the interpreter's own Unicode version. `nil` (a
    /// report from an older probe): Swift's Unicode table decides.
    public var digitRanges: String?

    /// Creates a table; the defaults are Flask's.
    public init(
        rules: [RouteRule],
        port: Int? = nil,
        host: String? = nil,
        hostMatching: Bool = false,
        subdomainMatching: Bool = false,
        serverName: String? = nil,
        defaultSubdomain: String = "",
        redirectDefaults: Bool = true,
        source: String = "runtime",
        unresolved: [String] = [],
        mergeSlashes: Bool = true,
        digitRanges: String? = nil,
        runCall: String? = nil
    ) {
        self.rules = rules
        self.port = port
        self.host = host
        self.hostMatching = hostMatching
        self.subdomainMatching = subdomainMatching
        self.serverName = serverName
        self.defaultSubdomain = defaultSubdomain
        self.redirectDefaults = redirectDefaults
        self.source = source
        self.unresolved = unresolved
        self.mergeSlashes = mergeSlashes
        self.digitRanges = digitRanges
        self.runCall = runCall
    }

    enum CodingKeys: String, CodingKey {
        case port, host, rules, source, unresolved
        case runCall = "run_call"
        case mergeSlashes = "merge_slashes"
        case hostMatching = "host_matching"
        case subdomainMatching = "subdomain_matching"
        case serverName = "server_name"
        case defaultSubdomain = "default_subdomain"
        case redirectDefaults = "redirect_defaults"
        case digitRanges = "digit_ranges"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.port = try c.decodeIfPresent(Int.self, forKey: .port)
        self.host = try c.decodeIfPresent(String.self, forKey: .host)
        self.rules = try c.decode([RouteRule].self, forKey: .rules)
        self.hostMatching = try c.decodeIfPresent(Bool.self, forKey: .hostMatching) ?? false
        self.subdomainMatching = try c.decodeIfPresent(Bool.self, forKey: .subdomainMatching) ?? false
        self.serverName = try c.decodeIfPresent(String.self, forKey: .serverName)
        self.defaultSubdomain = try c.decodeIfPresent(String.self, forKey: .defaultSubdomain) ?? ""
        self.redirectDefaults = try c.decodeIfPresent(Bool.self, forKey: .redirectDefaults) ?? true
        self.source = try c.decodeIfPresent(String.self, forKey: .source) ?? "runtime"
        self.unresolved = try c.decodeIfPresent([String].self, forKey: .unresolved) ?? []
        self.mergeSlashes = try c.decodeIfPresent(Bool.self, forKey: .mergeSlashes) ?? true
        self.digitRanges = try c.decodeIfPresent(String.self, forKey: .digitRanges)
        self.runCall = try c.decodeIfPresent(String.self, forKey: .runCall)
    }

    /// Encodes every key; `port`, `host` and `run_call` as `null` when unknown (never left out).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(port, forKey: .port)
        try c.encode(host, forKey: .host)
        try c.encode(runCall, forKey: .runCall)
        try c.encode(rules, forKey: .rules)
        try c.encode(hostMatching, forKey: .hostMatching)
        try c.encode(subdomainMatching, forKey: .subdomainMatching)
        try c.encode(serverName, forKey: .serverName)
        try c.encode(defaultSubdomain, forKey: .defaultSubdomain)
        try c.encode(redirectDefaults, forKey: .redirectDefaults)
        try c.encode(source, forKey: .source)
        try c.encode(unresolved, forKey: .unresolved)
        try c.encode(mergeSlashes, forKey: .mergeSlashes)
        try c.encodeIfPresent(digitRanges, forKey: .digitRanges)
    }
}

/// One `werkzeug.routing.Rule` as declared by the app.
public struct RouteRule: Sendable, Hashable, Codable {
    /// The rule string, e.g. `/user/<int(min=1):id>`.
    public var rule: String
    /// Allowed methods, upper-case, including the implied `HEAD` and Flask's `OPTIONS`; `nil` = any.
    public var methods: [String]?
    /// The endpoint name (`getyear`, `bp.index`).
    public var endpoint: String
    /// Whether a missing trailing slash redirects (308) instead of matching.
    public var strictSlashes: Bool
    /// Whether `//` in the request path is merged (and redirected) before matching.
    public var mergeSlashes: Bool
    /// Values added to the matched arguments (also makes the rule an alias target).
    public var defaults: [String: JSONValue]?
    /// A redirect target (`/new/<id>`); `nil` when absent or when it is a callable.
    public var redirectTo: String?
    /// The subdomain rule (used when `host_matching` is off).
    public var subdomain: String?
    /// The host rule (used when `host_matching` is on).
    public var host: String?
    /// The rule's variables in the order they appear, with the converter behind each.
    public var converters: [ConverterSpec]
    /// `Rule.alias`.
    public var alias: Bool
    /// `Rule.websocket`.
    public var websocket: Bool
    /// The position in which the rule was added to the map, when the probe could record it. Werkzeug
    /// breaks ties (rules sharing a state, equal-weight transitions) by registration order, which
    /// `rules` (grouped by endpoint, as `Map.iter_rules` yields them) does not always preserve.
    public var registrationIndex: Int?

    /// Creates a rule; the defaults are Werkzeug's.
    public init(
        rule: String,
        methods: [String]? = ["GET", "HEAD", "OPTIONS"],
        endpoint: String,
        strictSlashes: Bool = true,
        mergeSlashes: Bool = true,
        defaults: [String: JSONValue]? = nil,
        redirectTo: String? = nil,
        subdomain: String? = nil,
        host: String? = nil,
        converters: [ConverterSpec] = [],
        alias: Bool = false,
        websocket: Bool = false,
        registrationIndex: Int? = nil
    ) {
        self.rule = rule
        self.methods = methods
        self.endpoint = endpoint
        self.strictSlashes = strictSlashes
        self.mergeSlashes = mergeSlashes
        self.defaults = defaults
        self.redirectTo = redirectTo
        self.subdomain = subdomain
        self.host = host
        self.converters = converters
        self.alias = alias
        self.websocket = websocket
        self.registrationIndex = registrationIndex
    }

    enum CodingKeys: String, CodingKey {
        case rule, methods, endpoint, defaults, subdomain, host, converters, alias, websocket
        case registrationIndex = "registration_index"
        case strictSlashes = "strict_slashes"
        case mergeSlashes = "merge_slashes"
        case redirectTo = "redirect_to"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.rule = try c.decode(String.self, forKey: .rule)
        self.methods = try c.decodeIfPresent([String].self, forKey: .methods)
        self.endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? ""
        self.strictSlashes = try c.decodeIfPresent(Bool.self, forKey: .strictSlashes) ?? true
        self.mergeSlashes = try c.decodeIfPresent(Bool.self, forKey: .mergeSlashes) ?? true
        self.defaults = try c.decodeIfPresent([String: JSONValue].self, forKey: .defaults)
        self.redirectTo = try c.decodeIfPresent(String.self, forKey: .redirectTo)
        self.subdomain = try c.decodeIfPresent(String.self, forKey: .subdomain)
        self.host = try c.decodeIfPresent(String.self, forKey: .host)
        self.converters = try c.decodeIfPresent([ConverterSpec].self, forKey: .converters) ?? []
        self.alias = try c.decodeIfPresent(Bool.self, forKey: .alias) ?? false
        self.websocket = try c.decodeIfPresent(Bool.self, forKey: .websocket) ?? false
        self.registrationIndex = try c.decodeIfPresent(Int.self, forKey: .registrationIndex)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(methods, forKey: .methods)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(strictSlashes, forKey: .strictSlashes)
        try c.encode(mergeSlashes, forKey: .mergeSlashes)
        try c.encode(defaults, forKey: .defaults)
        try c.encode(redirectTo, forKey: .redirectTo)
        try c.encode(subdomain, forKey: .subdomain)
        try c.encode(host, forKey: .host)
        try c.encode(converters, forKey: .converters)
        try c.encode(alias, forKey: .alias)
        try c.encode(websocket, forKey: .websocket)
        try c.encodeIfPresent(registrationIndex, forKey: .registrationIndex)
    }
}

/// The converter behind one rule variable, as the app declared it.
///
/// Built-in converters (`kind` other than `custom`) are matched natively from the arguments in the
/// rule string; a custom converter is matched through the `regex` it declares.
public struct ConverterSpec: Sendable, Hashable, Codable {
    /// The variable name (`year`).
    public var variable: String
    /// The converter name used in the rule (`int`, `default`, or a custom name such as `regex`).
    public var converter: String
    /// The built-in behaviour: `default`, `string`, `path`, `any`, `int`, `float`, `uuid`, or `custom`.
    public var kind: String
    /// The converter instance's regex (Python `re` syntax).
    public var regex: String
    /// The converter's weight (Werkzeug orders dynamic parts by it).
    public var weight: Int
    /// `False` for converters whose regex can match `/` (such as `path`).
    public var partIsolating: Bool
    /// The conversion methods a custom converter's class defines itself (`to_python`, `to_url`): Python code that
    /// only the app's interpreter can run (`feisty match` asks it; the proxy gate forwards such requests).
    public var overrides: [String]

    /// Creates a converter description.
    public init(
        variable: String,
        converter: String,
        kind: String,
        regex: String,
        weight: Int,
        partIsolating: Bool,
        overrides: [String] = []
    ) {
        self.variable = variable
        self.converter = converter
        self.kind = kind
        self.regex = regex
        self.weight = weight
        self.partIsolating = partIsolating
        self.overrides = overrides
    }

    enum CodingKeys: String, CodingKey {
        case variable, converter, kind, regex, weight, overrides
        case partIsolating = "part_isolating"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        variable = try c.decode(String.self, forKey: .variable)
        converter = try c.decode(String.self, forKey: .converter)
        kind = try c.decode(String.self, forKey: .kind)
        regex = try c.decode(String.self, forKey: .regex)
        weight = try c.decode(Int.self, forKey: .weight)
        partIsolating = try c.decode(Bool.self, forKey: .partIsolating)
        overrides = try c.decodeIfPresent([String].self, forKey: .overrides) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(variable, forKey: .variable)
        try c.encode(converter, forKey: .converter)
        try c.encode(kind, forKey: .kind)
        try c.encode(regex, forKey: .regex)
        try c.encode(weight, forKey: .weight)
        try c.encode(partIsolating, forKey: .partIsolating)
        if !overrides.isEmpty { try c.encode(overrides, forKey: .overrides) }
    }
}
