/// What a rule variable's converter does, resolved from the rule string's arguments (built-ins) or from
/// the probe's `ConverterSpec` (custom converters).
enum ConverterBehaviour: Sendable {
    /// `[^/]{min,max}` (`max == nil`: unbounded); lengths count code points.
    case string(minLength: Int, maxLength: Int?)
    /// `[^/].*?`
    case path
    /// `(?:a|b|...)`, tried in the declared order.
    case any(alternatives: [[UInt8]], items: [String])
    /// `\d+` / `-?\d+`, then `int()` and the range checks.
    case int(fixedDigits: Int, min: ConverterArgument?, max: ConverterArgument?, signed: Bool)
    /// `\d+\.\d+` / `-?\d+\.\d+`, then `float()` and the range checks.
    case float(min: ConverterArgument?, max: ConverterArgument?, signed: Bool)
    /// The UUID pattern; the value is lower-cased.
    case uuid
    /// A converter feisty cannot run: matched through its regex, the string value is the argument.
    case custom
}

/// One rule variable's converter with Werkzeug's regex, weight and part isolation.
struct RouteConverter: Sendable {
    var behaviour: ConverterBehaviour
    /// The converter's regex exactly as Werkzeug builds it (part of the `RulePart` identity).
    var regex: String
    var weight: Int
    var partIsolating: Bool

    static let uuidRegex =
        #"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"#

    /// Builds the converter Werkzeug's `Map.converters[name](map, *args, **kwargs)` would build.
    /// - Parameters:
    ///   - name: The converter name written in the rule (`nil`: `default`).
    ///   - arguments: The raw argument text between the parentheses.
    ///   - spec: The probe's description of this variable's converter, when known.
    static func make(name: String?, arguments: String?, spec: ConverterSpec?, rule: String) throws(RouteError)
        -> RouteConverter
    {
        let kind = spec?.kind ?? builtinKind(name ?? "default")
        let (positional, keyword) = try RuleSyntax.parseArguments(arguments ?? "", rule: rule)
        func bind(_ names: [String]) throws(RouteError) -> [String: ConverterArgument] {
            if positional.count > names.count {
                throw .malformedRule(rule: rule, reason: "too many arguments for converter \(name ?? "default")")
            }
            var bound: [String: ConverterArgument] = [:]
            for (index, value) in positional.enumerated() { bound[names[index]] = value }
            for (key, value) in keyword {
                guard names.contains(key), bound[key] == nil else {
                    throw .malformedRule(rule: rule, reason: "unexpected converter argument \(key)")
                }
                bound[key] = value
            }
            return bound
        }
        switch kind {
        case "default", "string":
            let bound = try bind(["minlength", "maxlength", "length"])
            let lengthRegex: String
            let minLength: Int
            let maxLength: Int?
            if let length = bound["length"], length != .none {
                let value = try pythonInt(length, rule: rule)
                lengthRegex = "{\(value)}"
                (minLength, maxLength) = (value, value)
            } else {
                minLength = try pythonInt(bound["minlength"] ?? .int(1), rule: rule)
                if let maximum = bound["maxlength"], maximum != .none {
                    let value = try pythonInt(maximum, rule: rule)
                    maxLength = value
                    lengthRegex = "{\(minLength),\(value)}"
                } else {
                    maxLength = nil
                    lengthRegex = "{\(minLength),}"
                }
            }
            return RouteConverter(
                behaviour: .string(minLength: minLength, maxLength: maxLength),
                regex: "[^/]\(lengthRegex)",
                weight: 100,
                partIsolating: true
            )
        case "path":
            _ = try bind([])
            return RouteConverter(behaviour: .path, regex: "[^/].*?", weight: 200, partIsolating: false)
        case "any":
            guard keyword.isEmpty else { throw .malformedRule(rule: rule, reason: "any() takes no keywords") }
            var items: [String] = []
            for item in positional {
                guard case .string(let text) = item else {
                    throw .malformedRule(rule: rule, reason: "any() items must be strings")
                }
                items.append(text)
            }
            let regex = "(?:" + items.map(RuleSyntax.reEscape).joined(separator: "|") + ")"
            return RouteConverter(
                behaviour: .any(alternatives: items.map { Array($0.utf8) }, items: items),
                regex: regex,
                weight: 100,
                partIsolating: true
            )
        case "int":
            let bound = try bind(["fixed_digits", "min", "max", "signed"])
            let signed = truthy(bound["signed"])
            let fixed = bound["fixed_digits"].map { (try? pythonInt($0, rule: rule)) ?? 0 } ?? 0
            return RouteConverter(
                behaviour: .int(
                    fixedDigits: fixed,
                    min: nonNone(bound["min"]),
                    max: nonNone(bound["max"]),
                    signed: signed
                ),
                regex: signed ? #"-?\d+"# : #"\d+"#,
                weight: 50,
                partIsolating: true
            )
        case "float":
            let bound = try bind(["min", "max", "signed"])
            let signed = truthy(bound["signed"])
            return RouteConverter(
                behaviour: .float(min: nonNone(bound["min"]), max: nonNone(bound["max"]), signed: signed),
                regex: signed ? #"-?\d+\.\d+"# : #"\d+\.\d+"#,
                weight: 50,
                partIsolating: true
            )
        case "uuid":
            _ = try bind([])
            return RouteConverter(behaviour: .uuid, regex: uuidRegex, weight: 100, partIsolating: true)
        default:
            guard let spec else {
                throw .malformedRule(rule: rule, reason: "the converter \(name ?? "default") does not exist")
            }
            return RouteConverter(
                behaviour: .custom,
                regex: spec.regex,
                weight: spec.weight,
                partIsolating: spec.partIsolating
            )
        }
    }

    /// The built-in kind behind a converter name of Werkzeug's default map.
    static func builtinKind(_ name: String) -> String {
        switch name {
        case "default", "string": "string"
        case "path", "any", "int", "float", "uuid": name
        default: "custom"
        }
    }

    private static func nonNone(_ value: ConverterArgument?) -> ConverterArgument? {
        if let value, value != .none { return value }
        return nil
    }

    private static func truthy(_ value: ConverterArgument?) -> Bool {
        switch value {
        case .none?, nil: false
        case .bool(let flag)?: flag
        case .int(let number)?: number != 0
        case .float(let number)?: number != 0
        case .string(let text)?: !text.isEmpty
        }
    }

    /// Python's `int(x)` for a converter argument.
    private static func pythonInt(_ value: ConverterArgument, rule: String) throws(RouteError) -> Int {
        switch value {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .float(let number) where number.isFinite: return Int(number)
        case .string(let text):
            if case .int(let number)? = PythonNumber.parseInt(text) { return number }
        default: break
        }
        throw .malformedRule(rule: rule, reason: "invalid converter length argument")
    }
}
