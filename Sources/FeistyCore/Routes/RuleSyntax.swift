import Foundation

/// One token of a Werkzeug rule string, as `werkzeug.routing.rules._part_re` splits it.
enum RuleToken: Equatable {
    case slash
    case staticText(String)
    /// `<converter(arguments):variable>`; `converter` is `nil` for `<variable>`.
    case variable(converter: String?, arguments: String?, name: String)
}

/// A Python value produced by Werkzeug's `parse_converter_args` / `_pythonize`.
enum ConverterArgument: Equatable, Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

/// Ports of the rule-string grammar of `werkzeug/routing/rules.py`.
///
/// Compile-time only, so it uses ICU regexes translated from Werkzeug's own patterns: this keeps the
/// grammar (lazy `(.*?)` arguments, the alternative order of `_converter_args_re`) byte-for-byte the same
/// without hand-writing a second regex engine.
enum RuleSyntax {
    // `_part_re`, with `.` narrowed to `[^\n]` (Python's `.`) and named groups numbered:
    // 1 slash, 2 static, 3 converter, 4 arguments, 5 variable.
    private static let partPattern = try! NSRegularExpression(
        pattern: #"\G(?:(/)|([^</]+)|(?:<(?:([a-zA-Z_][a-zA-Z0-9_]*)(?:\(([^\n]*?)\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>))"#
    )
    // `_converter_args_re`: 1 name-group, 2 name, 3 value, 4 stringval.
    private static let argumentPattern = try! NSRegularExpression(
        pattern: #"\s*((\w+)\s*=\s*)?(True|False|\d+[^\n]\d+|\d+[^\n]|\d+|[\w\d_.]+|[urUR]?("[^"]*?"|'[^']*'))\s*,"#
    )

    /// Splits a rule string into tokens exactly as `Rule._parse_rule` walks `_part_re`.
    /// - Throws: `RouteError.malformedRule` where Werkzeug raises `malformed url rule`.
    static func tokenize(_ rule: String) throws(RouteError) -> [RuleToken] {
        let text = rule as NSString
        var tokens: [RuleToken] = []
        var position = 0
        while position < text.length {
            guard
                let match = partPattern.firstMatch(
                    in: rule,
                    options: [.anchored],
                    range: NSRange(location: position, length: text.length - position)
                )
            else {
                throw .malformedRule(rule: rule, reason: "malformed url rule")
            }
            func group(_ index: Int) -> String? {
                let range = match.range(at: index)
                return range.location == NSNotFound ? nil : text.substring(with: range)
            }
            if group(1) != nil {
                tokens.append(.slash)
            } else if let text = group(2) {
                tokens.append(.staticText(text))
            } else if let name = group(5) {
                tokens.append(.variable(converter: group(3), arguments: group(4), name: name))
            }
            position = match.range.location + match.range.length
        }
        return tokens
    }

    /// `parse_converter_args`: positional and keyword arguments of a converter.
    static func parseArguments(_ arguments: String, rule: String) throws(RouteError)
        -> (positional: [ConverterArgument], keyword: [(String, ConverterArgument)])
    {
        let text = (arguments + ",") as NSString
        var positional: [ConverterArgument] = []
        var keyword: [(String, ConverterArgument)] = []
        var position = 0
        let matches = argumentPattern.matches(in: text as String, range: NSRange(location: 0, length: text.length))
        for match in matches {
            if match.range.location != position {
                throw .malformedRule(rule: rule, reason: "cannot parse converter argument")
            }
            func group(_ index: Int) -> String? {
                let range = match.range(at: index)
                return range.location == NSNotFound ? nil : text.substring(with: range)
            }
            let value = pythonize(group(4) ?? group(3) ?? "")
            if let name = group(2) {
                keyword.append((name, value))
            } else {
                positional.append(value)
            }
            position = match.range.location + match.range.length
        }
        return (positional, keyword)
    }

    /// `_pythonize`: constants, then `int()`, then `float()`, then the (unquoted) string.
    static func pythonize(_ value: String) -> ConverterArgument {
        switch value {
        case "None": return .none
        case "True": return .bool(true)
        case "False": return .bool(false)
        default: break
        }
        if let number = PythonNumber.parseInt(value) {
            if case .int(let small) = number { return .int(small) }
            return .float(PythonNumber.parseFloat(value) ?? 0)
        }
        if let number = PythonNumber.parseFloat(value) { return .float(number) }
        var text = value
        if let first = text.first, first == text.last, first == "\"" || first == "'", text.count >= 1 {
            text = String(text.dropFirst().dropLast())
        }
        return .string(text)
    }

    /// Python's `re.escape` (3.7+): only the special characters get a backslash.
    static func reEscape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "(", ")", "[", "]", "{", "}", "?", "*", "+", "-", "|", "^", "$", "\\", ".", "&", "~", "#", " ",
                "\t", "\n", "\r", "\u{0B}", "\u{0C}":
                out.append("\\")
                out.unicodeScalars.append(scalar)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
