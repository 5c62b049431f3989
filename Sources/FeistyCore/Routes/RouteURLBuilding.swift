/// The URL-building half of Werkzeug that redirects need: `quote`, converters' `to_url`, `Rule.build`,
/// `urljoin` against the script root, and Python's `str()` of the values.
enum RouteURLBuilding {
    /// Werkzeug's `safe` set for path segments (https://url.spec.whatwg.org/#url-path-segment-string).
    static let pathSafe: Set<UInt8> = Set("!$&'()*+,/:;=@".utf8)

    /// `urllib.parse.quote(text, safe)`: UTF-8, with `A-Za-z0-9_.-~` and `safe` kept.
    static func quote(_ text: String, safe: Set<UInt8> = pathSafe) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            let alwaysSafe =
                (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "~")
            if alwaysSafe || safe.contains(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A building step that Python would abort with an exception (the app answers 500).
    struct BuildFailure: Error {}

    /// Python's `str(value)`.
    static func pythonString(_ value: JSONValue) -> String {
        switch value {
        case .null: "None"
        case .bool(let flag): flag ? "True" : "False"
        case .int(let number): String(number)
        case .bigInteger(let digits): digits
        case .double(let number): pythonFloatRepr(number)
        case .string(let text): text
        case .array(let items): "[" + items.map(pythonRepr).joined(separator: ", ") + "]"
        case .object(let items):
            "{"
                + items.sorted { $0.key < $1.key }.map { "'\($0.key)': \(pythonRepr($0.value))" }.joined(
                    separator: ", "
                )
                + "}"
        }
    }

    private static func pythonRepr(_ value: JSONValue) -> String {
        if case .string(let text) = value { return "'\(text)'" }
        return pythonString(value)
    }

    /// `repr(float)`: shortest round-trip digits, fixed notation for exponents in -4..<16.
    static func pythonFloatRepr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also yields the shortest round-trip digits; re-lay them out.
        var text = "\(value.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits = text.replacingOccurrences(".", with: "")
        let pointPosition =
            (text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count)
        var decimalExponent = pointPosition + exponent  // digits are 0.d1d2... * 10^decimalExponent
        let leadingZeros = digits.prefix { $0 == "0" }.count
        digits.removeFirst(leadingZeros)
        decimalExponent -= leadingZeros
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.isEmpty { digits = "0" }
        let scientific = decimalExponent - 1
        let sign = value < 0 ? "-" : ""
        if scientific < -4 || scientific >= 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let expText = String(abs(scientific))
            return sign + mantissa + "e" + (scientific < 0 ? "-" : "+") + (expText.count < 2 ? "0" + expText : expText)
        }
        if decimalExponent <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalExponent) + digits
        }
        if digits.count <= decimalExponent {
            return sign + digits + String(repeating: "0", count: decimalExponent - digits.count) + ".0"
        }
        let integral = digits.prefix(decimalExponent)
        return sign + integral + "." + digits.dropFirst(decimalExponent)
    }

    /// The converter's `to_url(value)`.
    static func toURL(_ converter: RouteConverter, _ value: JSONValue) throws(BuildFailure) -> String {
        switch converter.behaviour {
        case .int(let fixedDigits, _, _, _):
            let text: String
            switch value {
            case .int(let number): text = String(number)
            case .bigInteger(let digits): text = digits
            case .bool(let flag): text = flag ? "1" : "0"
            case .double(let number):
                guard number.isFinite else { throw BuildFailure() }
                text = String(Int(number.rounded(.towardZero)))
            case .string(let string):
                guard let parsed = PythonNumber.parseInt(string) else { throw BuildFailure() }
                switch parsed {
                case .int(let number): text = String(number)
                case .big(let digits): text = digits
                }
            default: throw BuildFailure()
            }
            return zfill(text, fixedDigits)
        case .float:
            switch value {
            case .int(let number): return pythonFloatRepr(Double(number))
            case .bigInteger(let digits): return pythonFloatRepr(Double(digits) ?? .infinity)
            case .bool(let flag): return flag ? "1.0" : "0.0"
            case .double(let number): return pythonFloatRepr(number)
            case .string(let string):
                guard let number = PythonNumber.parseFloat(string) else { throw BuildFailure() }
                return pythonFloatRepr(number)
            default: throw BuildFailure()
            }
        case .any(_, let items):
            guard case .string(let text) = value, items.contains(text) else { throw BuildFailure() }
            return text
        case .uuid:
            return pythonString(value)
        case .string, .path, .custom:
            return quote(pythonString(value))
        }
    }

    /// `str.zfill`.
    static func zfill(_ text: String, _ width: Int) -> String {
        let count = text.unicodeScalars.count
        guard width > count else { return text }
        let padding = String(repeating: "0", count: width - count)
        if let first = text.first, first == "-" || first == "+" {
            return String(first) + padding + text.dropFirst()
        }
        return padding + text
    }

    /// `Rule.build(values, append_unknown)`: the domain part and the path.
    static func build(_ rule: CompiledRule, _ values: [(String, JSONValue)]) throws(BuildFailure) -> (String, String) {
        let defaults = rule.source.defaults ?? [:]
        var domain = ""
        var path = ""
        var inPath = false
        for item in rule.trace {
            if !item.isDynamic, item.text == "|", !inPath {
                inPath = true
                continue
            }
            let piece: String
            if item.isDynamic {
                guard let converter = rule.converters[item.text] else { throw BuildFailure() }
                if let value = defaults[item.text] {
                    piece = try toURL(converter, value)
                } else if let value = values.last(where: { $0.0 == item.text })?.1 {
                    piece = try toURL(converter, value)
                } else {
                    throw BuildFailure()
                }
            } else {
                piece = quote(item.text)
            }
            if inPath { path += piece } else { domain += piece }
        }
        return (domain, path)
    }

    /// `urljoin("{scheme}://{netloc}/", url)` (Python 3.11); `scheme` is `http` or `ws` (both in `uses_relative`
    /// and `uses_netloc`). `urlparse` splits `;params` off the last path segment for `http` (in `uses_params`)
    /// but not for `ws`: the params skip dot-segment removal and come back only when not empty (`urlunparse`),
    /// so `a/..;` becomes `/` and `x;` becomes `/x`.
    static func urljoin(scheme baseScheme: String, netloc: String, _ url: String) -> String {
        let base = "\(baseScheme)://\(netloc)/"
        if url.isEmpty { return base }
        var rest = Substring(url)
        while let first = rest.unicodeScalars.first, first.value <= 0x20 { rest = rest.dropFirst() }
        rest = Substring(String(rest).filter { $0 != "\t" && $0 != "\n" && $0 != "\r" })
        var scheme = baseScheme
        if let colon = rest.firstIndex(of: ":"), colon > rest.startIndex, let first = rest.first, first.isASCII,
            first.isLetter,
            rest[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(after: colon)...]
        }
        var netlocPart: Substring?
        if rest.hasPrefix("//") {
            let after = rest.index(rest.startIndex, offsetBy: 2)
            let end = rest[after...].firstIndex { "/?#".contains($0) } ?? rest.endIndex
            netlocPart = rest[after..<end]
            rest = rest[end...]
        }
        var fragment: Substring?
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        }
        var query: Substring?
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var path = rest
        if scheme != baseScheme { return url }
        // `urlparse`: `_splitparams` when the scheme uses params and the path has a `;`.
        var params: Substring = ""
        if Self.usesParams.contains(scheme), let params0 = Self.splitParams(path) {
            (path, params) = params0
        }
        func unsplit(_ netloc: Substring, _ path: String) -> String {
            // `urlunparse`: non-empty params go back after the path, then `urlunsplit`.
            let withParams = params.isEmpty ? path : path + ";" + params
            var result = baseScheme + "://" + netloc
            result += (withParams.isEmpty || withParams.hasPrefix("/")) ? withParams : "/" + withParams
            if let query, !query.isEmpty { result += "?" + query }
            if let fragment, !fragment.isEmpty { result += "#" + fragment }
            return result
        }
        if let netlocPart, !netlocPart.isEmpty { return unsplit(netlocPart, String(path)) }
        if path.isEmpty && params.isEmpty { return unsplit(Substring(netloc), "/") }
        var segments: [Substring]
        if path.hasPrefix("/") {
            segments = path.split(separator: "/", omittingEmptySubsequences: false)
        } else {
            segments = ["", ""] + path.split(separator: "/", omittingEmptySubsequences: false)
            if segments.count > 2 {
                let middle = segments[1..<(segments.count - 1)].filter { !$0.isEmpty }
                segments = [segments[0]] + middle + [segments[segments.count - 1]]
            }
        }
        var resolved: [Substring] = []
        for segment in segments {
            if segment == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
            } else if segment != "." {
                resolved.append(segment)
            }
        }
        if let last = segments.last, last == "." || last == ".." { resolved.append("") }
        let joined = resolved.joined(separator: "/")
        return unsplit(Substring(netloc), joined.isEmpty ? "/" : joined)
    }

    /// The base schemes of `urljoin` here that are in `urllib.parse.uses_params` (`ws` is not).
    private static let usesParams: Set<String> = ["http", "https"]

    /// `urllib.parse._splitparams`: the `;` searched from the last `/` on (or from the start without one);
    /// `nil` when there is none there.
    static func splitParams(_ path: Substring) -> (Substring, Substring)? {
        let from = path.lastIndex(of: "/") ?? path.startIndex
        guard let semicolon = path[from...].firstIndex(of: ";") else { return nil }
        return (path[..<semicolon], path[path.index(after: semicolon)...])
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
