@testable import FeistyCore

/// Builds a matcher from `(rule, endpoint)` pairs with Flask's defaults (GET, HEAD, OPTIONS).
func routeMatcher(_ rules: [RouteRule], table configure: (inout RouteTable) -> Void = { _ in }) throws -> RouteMatcher {
    var table = RouteTable(rules: rules)
    configure(&table)
    return try RouteMatcher(table: table)
}

func rule(_ text: String, _ endpoint: String, methods: [String]? = ["GET", "HEAD", "OPTIONS"]) -> RouteRule {
    RouteRule(rule: text, methods: methods, endpoint: endpoint)
}

/// The verdict's endpoint and arguments as plain values, for compact expectations.
func matched(_ verdict: RouteVerdict) -> (String, [String: JSONValue])? {
    guard case .match(let endpoint, _, let arguments) = verdict else { return nil }
    return (endpoint, Dictionary(arguments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
}
