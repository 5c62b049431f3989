/// Errors of the routing subsystem.
public enum RouteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A rule string Werkzeug would reject too (`malformed url rule`).
    case malformedRule(rule: String, reason: String)
    /// A custom converter's regex that feisty cannot compile.
    case unsupportedConverterRegex(rule: String, variable: String, regex: String)
    /// The probe's `digit_ranges` is not a list of ascending hex ranges.
    case malformedDigitRanges(String)

    public var description: String {
        switch self {
        case .malformedRule(let rule, let reason): "malformed url rule \(rule): \(reason)"
        case .unsupportedConverterRegex(let rule, let variable, let regex):
            "rule \(rule): the regex of converter <\(variable)> cannot be compiled: \(regex)"
        case .malformedDigitRanges(let text): "the route table's digit_ranges is malformed: \(text.prefix(80))"
        }
    }
}
