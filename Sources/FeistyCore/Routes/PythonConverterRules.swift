/// Rules whose verdict needs Python: a custom converter whose class defines its own `to_python` (it converts the
/// matched text, or raises `ValidationError` and turns the match into Werkzeug's `NoMatch`) or `to_url` (it builds
/// redirect targets). The regex alone decides the walk; what follows only the app's interpreter can decide.
extension RouteRule {
    /// Whether one of this rule's converters runs the app's own `to_python` or `to_url`.
    public var runsPythonConverters: Bool {
        converters.contains { !$0.overrides.isEmpty }
    }
}

/// What `RouteMatcher.matchNatively` decides.
public enum NativeVerdict: Sendable, Hashable {
    /// The verdict, with no Python involved.
    case verdict(RouteVerdict)
    /// The request reached this rule, whose verdict needs the app's interpreter (`PythonConverterRules`).
    case needsPython(ruleIndex: Int)
}

/// Which rules `matchNatively` hands to the app's interpreter.
enum PythonConverterRules {
    /// Per table index: the rule runs a converter's own Python, or shares its endpoint with one that does
    /// (Werkzeug's default and alias redirects build the endpoint's other rules with their `to_url`).
    static func flags(_ table: RouteTable) -> [Bool] {
        var endpoints: Set<String> = []
        for rule in table.rules where rule.runsPythonConverters { endpoints.insert(rule.endpoint) }
        return table.rules.map { endpoints.contains($0.endpoint) }
    }
}
