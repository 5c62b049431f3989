/// `werkzeug.routing.rules.Weighting`: the sort key of dynamic transitions (compared like Python tuples).
struct Weighting: Hashable, Comparable, Sendable {
    var numberStaticWeights: Int
    /// `static_weights`, the `(index, -length)` pairs flattened (same lexicographic order).
    var staticWeights: [Int]
    var numberArgumentWeights: Int
    var argumentWeights: [Int]

    static func < (lhs: Weighting, rhs: Weighting) -> Bool {
        if lhs.numberStaticWeights != rhs.numberStaticWeights {
            return lhs.numberStaticWeights < rhs.numberStaticWeights
        }
        if lhs.staticWeights != rhs.staticWeights {
            return lhs.staticWeights.lexicographicallyPrecedes(rhs.staticWeights)
        }
        if lhs.numberArgumentWeights != rhs.numberArgumentWeights {
            return lhs.numberArgumentWeights < rhs.numberArgumentWeights
        }
        return lhs.argumentWeights.lexicographicallyPrecedes(rhs.argumentWeights)
    }
}

/// `werkzeug.routing.rules.RulePart`.
struct CompiledPart: Sendable {
    /// Static text, or Werkzeug's regex for the part (the dataclass identity used to share states).
    var content: String
    var isFinal: Bool
    var isStatic: Bool
    var isSuffixed: Bool
    var weight: Weighting
    /// The matcher of a dynamic part.
    var pattern: PartPattern?

    /// Equality as the `RulePart` dataclass defines it.
    struct Identity: Hashable {
        var content: String
        var isFinal: Bool
        var isStatic: Bool
        var isSuffixed: Bool
        var weight: Weighting
    }

    var identity: Identity {
        Identity(content: content, isFinal: isFinal, isStatic: isStatic, isSuffixed: isSuffixed, weight: weight)
    }
}

/// One element of `Rule._trace`: what URL building walks.
struct TraceItem: Hashable, Sendable {
    var isDynamic: Bool
    var text: String
}

/// A `RouteRule` compiled as `Rule.bind` + `Rule.compile` would.
///
/// A final class with `let` fields only (immutable, hence `Sendable`): `rules[index]` on the match path
/// is one retain instead of a copy of a dozen reference-counted fields.
final class CompiledRule: Sendable {
    let tableIndex: Int
    let source: RouteRule
    let parts: [CompiledPart]
    /// `rule._converters.keys()`: unique variable names in first-appearance order.
    let variableNames: [String]
    /// `rule._converters[name]` (the last declaration of a name wins, as in the dict).
    let converters: [String: RouteConverter]
    /// `converters[variableNames[i]].behaviour`, so converting values needs no string hashing.
    let behaviours: [ConverterBehaviour]
    /// `Rule._trace` (domain items, then `|`, then path items).
    let trace: [TraceItem]
    /// `Rule.arguments`: variables plus default keys.
    let arguments: Set<String>
    /// Total converter groups over all parts (the length of `values` when the rule matches).
    let captureCount: Int

    /// Compiles one rule of `table`.
    init(_ rule: RouteRule, tableIndex: Int, table: RouteTable) throws(RouteError) {
        self.tableIndex = tableIndex
        self.source = rule
        guard rule.rule.hasPrefix("/") else {
            throw .malformedRule(rule: rule.rule, reason: "URL rule must start with a slash")
        }
        var parser = RuleParser(rule: rule)
        if let text = table.digitRanges {
            guard let digits = PythonDigits(text) else { throw .malformedDigitRanges(text) }
            parser.digits = digits
        }
        let domainRule = table.hostMatching ? (rule.host ?? "") : (rule.subdomain ?? table.defaultSubdomain)
        var parts: [CompiledPart] = []
        if domainRule.isEmpty {
            parts.append(
                CompiledPart(
                    content: "",
                    isFinal: false,
                    isStatic: true,
                    isSuffixed: false,
                    weight: Weighting(
                        numberStaticWeights: 0,
                        staticWeights: [],
                        numberArgumentWeights: 0,
                        argumentWeights: []
                    ),
                    pattern: nil
                )
            )
        } else {
            let domainParts = try parser.parse(domainRule)
            if domainParts.contains(where: \.isFinal) {
                throw .malformedRule(
                    rule: rule.rule,
                    reason: "a converter matching '/' in the host rule is not supported"
                )
            }
            parts.append(contentsOf: domainParts)
        }
        parser.trace.append(TraceItem(isDynamic: false, text: "|"))
        let path = rule.mergeSlashes ? Self.mergeSlashes(rule.rule) : rule.rule
        parts.append(contentsOf: try parser.parse(path))
        self.parts = parts
        self.variableNames = parser.variableNames
        self.converters = parser.converters
        self.behaviours = parser.variableNames.map { parser.converters[$0]!.behaviour }
        self.trace = parser.trace
        self.arguments = Set(parser.variableNames).union(rule.defaults.map { Set($0.keys) } ?? [])
        self.captureCount = parts.reduce(0) { $0 + ($1.pattern?.captureCount ?? 0) }
    }

    /// `re.sub("/{2,}", "/", text)`.
    static func mergeSlashes(_ text: String) -> String {
        guard text.contains("//") else { return text }
        var out = ""
        var previousSlash = false
        for character in text {
            if character == "/" {
                if previousSlash { continue }
                previousSlash = true
            } else {
                previousSlash = false
            }
            out.append(character)
        }
        return out
    }

    /// `Rule.build_compare_key()`.
    var buildCompareKey: (Int, Int, Int) {
        (source.alias ? 1 : 0, -arguments.count, -(source.defaults?.count ?? 0))
    }
}

/// `Rule._parse_rule`, accumulating the converters and the trace across the domain and path rules.
private struct RuleParser {
    let rule: RouteRule
    var variableNames: [String] = []
    var converters: [String: RouteConverter] = [:]
    var trace: [TraceItem] = []
    /// The app's `\d` (`RouteTable.digitRanges`), for the int and float converters.
    var digits: PythonDigits?

    init(rule: RouteRule) { self.rule = rule }

    mutating func parse(_ text: String) throws(RouteError) -> [CompiledPart] {
        var result: [CompiledPart] = []
        var content = ""
        var isStatic = true
        var argumentWeights: [Int] = []
        var staticWeights: [Int] = []
        var isFinal = false
        var elements: [PartElement] = []
        var pendingLiteral = ""
        var hasCustom = false
        var firstCustomVariable = ""

        func flushLiteral() {
            if !pendingLiteral.isEmpty { elements.append(.literal(Array(pendingLiteral.utf8))) }
            pendingLiteral = ""
        }
        func weighting() -> Weighting {
            Weighting(
                numberStaticWeights: -(staticWeights.count / 2),
                staticWeights: staticWeights,
                numberArgumentWeights: -argumentWeights.count,
                argumentWeights: argumentWeights
            )
        }
        func makePart(suffixed: Bool) throws(RouteError) -> CompiledPart {
            var pattern: PartPattern?
            if !isStatic {
                flushLiteral()
                pattern = try PartPattern(
                    elements: elements,
                    content: content,
                    hasCustom: hasCustom,
                    rule: rule.rule,
                    variable: firstCustomVariable,
                    digits: digits
                )
            }
            return CompiledPart(
                content: content,
                isFinal: isFinal,
                isStatic: isStatic,
                isSuffixed: suffixed,
                weight: weighting(),
                pattern: pattern
            )
        }

        for token in try RuleSyntax.tokenize(text) {
            switch token {
            case .staticText(let data):
                staticWeights.append(staticWeights.count / 2)
                staticWeights.append(-data.unicodeScalars.count)
                trace.append(TraceItem(isDynamic: false, text: data))
                content += isStatic ? data : RuleSyntax.reEscape(data)
                pendingLiteral += data
            case .variable(let converterName, let arguments, let name):
                if isStatic { content = RuleSyntax.reEscape(content) }
                isStatic = false
                let spec = rule.converters.last { $0.variable == name }
                let converter = try RouteConverter.make(
                    name: converterName,
                    arguments: arguments,
                    spec: spec,
                    rule: rule.rule
                )
                if converters[name] == nil { variableNames.append(name) }
                converters[name] = converter
                if !converter.partIsolating { isFinal = true }
                if case .custom = converter.behaviour {
                    if !hasCustom { firstCustomVariable = name }
                    hasCustom = true
                }
                content += "(?P<__werkzeug_\(elements.reduce(0) { if case .capture = $1 { $0 + 1 } else { $0 } })>"
                content += converter.regex + ")"
                flushLiteral()
                elements.append(.capture(converter.behaviour))
                argumentWeights.append(converter.weight)
                trace.append(TraceItem(isDynamic: true, text: name))
            case .slash:
                trace.append(TraceItem(isDynamic: false, text: "/"))
                if isFinal {
                    content += "/"
                    pendingLiteral += "/"
                } else {
                    if !isStatic { content += #"\Z"# }
                    result.append(try makePart(suffixed: false))
                    content = ""
                    isStatic = true
                    argumentWeights = []
                    staticWeights = []
                    isFinal = false
                    elements = []
                    pendingLiteral = ""
                    hasCustom = false
                }
            }
        }
        var suffixed = false
        if isFinal, content.hasSuffix("/") {
            suffixed = true
            content = String(content.dropLast()) + "(?<!/)(/?)"
            if pendingLiteral.hasSuffix("/") {
                pendingLiteral.removeLast()
                flushLiteral()
                elements.append(.suffix)
            } else {
                throw .malformedRule(rule: rule.rule, reason: "unsupported slash suffix")
            }
        }
        if !isStatic { content += #"\Z"# }
        let last = try makePart(suffixed: suffixed)
        result.append(last)
        if suffixed {
            result.append(
                CompiledPart(
                    content: "",
                    isFinal: false,
                    isStatic: true,
                    isSuffixed: false,
                    weight: last.weight,
                    pattern: nil
                )
            )
        }
        return result
    }
}
