/// Errors of the routing subsystem.
public enum RouteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A rule string Werkzeug would reject too (`malformed url rule`).
    case malformedRule(rule: String, reason: String)
    /// A custom converter's regex that feisty cannot compile.
    case unsupportedConverterRegex(rule: String, variable: String, regex: String)

    public var description: String {
        switch self {
        case .malformedRule(let rule, let reason): "malformed url rule \(rule): \(reason)"
        case .unsupportedConverterRegex(let rule, let variable, let regex):
            "rule \(rule): the regex of converter <\(variable)> cannot be compiled: \(regex)"
        }
    }
}
