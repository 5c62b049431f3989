#if canImport(FeistyCore)
    import FeistyCore
#endif

/// One generated request for the matcher: what the proxy hands `RouteMatcher.gate` and `match`.
public struct FuzzRequest: Sendable, CustomStringConvertible {
    public var method: String
    public var target: String
    public var host: String
    public var websocket: Bool

    public var description: String {
        let shown = target.count > 200 ? "\(target.prefix(200))… (\(target.utf8.count) bytes)" : target
        return "\(method.debugDescription) \(shown.debugDescription) host=\(host.debugDescription)"
            + (websocket ? " websocket" : "")
    }
}

/// Seeded random requests aimed at one route table: targets built from its rules (each variable filled with
/// text its converter accepts or nearly accepts), then mutated with what scanners and broken clients send:
/// percent-escapes (invalid UTF-8, `%00`, `%2F`, truncated), `//` and dot segments, NUL and controls,
/// Unicode digits, absolute-form targets, queries and fragments, and now and then a path of many kilobytes.
public struct FuzzRequestGenerator: Sendable {
    let ruleStrings: [String]
    public let hosts: [String]

    public static let methods = [
        "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "Post", "BREW", "",
        "GETS", "G\u{0}T", "M-SEARCH", "VERYLONGMETHODNAME", "É",
    ]
    static let words = [
        "a", "b", "users", "api", "v1", "files", "x.y", "café", "item", "static", "all", "page", "-", "edit", "old",
        "canon", "target", "ws", "both", "1", "2.5", "json", "xml", "%2F", "%ff", "index.html", "..", ".",
    ]
    /// Digits of other scripts (Arabic-Indic, fullwidth, Devanagari, Kawi, Nag Mundari), and characters
    /// that are numeric but not decimal digits (superscripts, fractions, Roman numerals).
    static let unicodeDigits = [
        "\u{0663}", "\u{0661}\u{0662}", "\u{FF15}", "\u{096A}\u{096B}", "\u{11F53}", "1\u{11F50}", "\u{1E4F5}",
        "\u{00B2}", "\u{00BD}", "\u{2167}", "\u{1D7CE}", "\u{0F33}",
    ]
    /// Text spliced into targets at random places.
    static let splices = [
        "/", "//", "///", "/./", "/../", "/.", "/..", ".", "..", "%", "%2", "%2F", "%2f", "%25", "%00", "\u{0}",
        "%FF", "%C3", "%C3%A9", "%E2%82", "%E2%82%AC", "%F0%9F%98%80", "%F0%80%80", "%ED%A0%80", "%C0%AF", "%ZZ",
        "\u{FFFD}", "é", "\u{0663}", "\u{1F600}", "?", "#", ";", ";a=b", " ", "\t", "\r", "\n", "\u{7F}", "+",
        "%20", "\\", ":", "@", "*", "~", "%u0041", "http://a.example.com", "HTTP://LocalHost:5000", "//evil.test",
    ]

    /// Prepares requests for `table`.
    public init(table: RouteTable) {
        ruleStrings = table.rules.map(\.rule)
        var hosts = [
            "localhost", "localhost", "localhost:5000", "LOCALHOST", "localhost:80", "127.0.0.1:5000", "[::1]:5000",
            "example.com", "a.example.com", "api.example.com", "x.y.example.com", "example.com:5000",
            "a.example.com:5000", "static.test", "", ":", ":5000", "[", "a..b", ".example.com", "a.b..:5000",
            "café.example.com", "xn--caf-dma.example.com", String(repeating: "a", count: 64) + ".example.com",
            "exa\u{0}mple.com", "example.com.", "EXAMPLE.COM:5000", "bad_host", "a b", "localhost:port",
        ]
        if let name = table.serverName { hosts += [name, "sub.\(name)", "a.b.\(name)", name.uppercased()] }
        for rule in table.rules {
            if let host = rule.host { hosts.append(Self.fill(host) { $0[0] }) }
            if let subdomain = rule.subdomain, let name = table.serverName {
                hosts.append(Self.fill(subdomain) { $0[0] } + "." + name)
            }
        }
        self.hosts = hosts
    }

    /// The next request.
    public func next(using random: inout SeededRandom) -> FuzzRequest {
        var target: String
        if !ruleStrings.isEmpty, random.chance(0.75) {
            target = Self.fill(random.pick(ruleStrings)) { random.pick($0) }
        } else {
            target =
                "/"
                + (0..<Int.random(in: 0...4, using: &random)).map { _ in random.pick(Self.words) }
                .joined(separator: "/")
        }
        for _ in 0..<Int.random(in: 0...3, using: &random) { target = Self.mutate(target, using: &random) }
        if random.chance(0.002) {
            // A very long path: thousands of segments, or one segment of many kilobytes; at most a MiB or so,
            // 64 times the proxy's default head limit (a target that already holds a 5,000-digit sample, repeated
            // 20,000 times, made a 190 MB case that took seconds alone).
            let unit = random.pick(["a/", "%41", "//", "1", "../", "x" + target.prefix(60)])
            let count = min(Int.random(in: 1000...20000, using: &random), (1 << 20) / unit.utf8.count)
            target += String(repeating: unit, count: count)
        }
        let method =
            random.chance(0.01)
            ? String(repeating: "A", count: Int.random(in: 1...300, using: &random))
            : random.pick(Self.methods)
        let host = random.chance(0.6) ? "localhost" : random.pick(hosts)
        return FuzzRequest(method: method, target: target, host: host, websocket: random.chance(0.1))
    }

    /// A rule template with each `<converter:name>` replaced by the sample `choose` takes from its converter's.
    static func fill(_ template: String, choose: ([String]) -> String) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "<") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: ">") else {
                out += rest[open...]
                return out
            }
            let spec = rest[rest.index(after: open)..<close]
            let converter = spec.contains(":") ? String(spec.split(separator: ":")[0].split(separator: "(")[0]) : ""
            let samples = Self.samples(converter)
            out += choose(samples)
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    static func samples(_ converter: String) -> [String] {
        switch converter {
        case "int":
            [
                "0", "1", "7", "42", "100", "101", "007", "-5", "1234", "99999999999999999999999", "+3", "12a",
                String(repeating: "9", count: 5000),
            ] + unicodeDigits
        case "float":
            [
                "1.5", "0.0", "-1.0", "-2.5", "10", "1.", ".5", "\u{0661}.\u{0665}", "3.25", "1e5", "inf", "nan",
                "1" + String(repeating: "0", count: 400) + ".0", "\u{FF11}.\u{FF15}",
            ]
        case "uuid":
            [
                "4155d7ef-28dd-37eb-2adf-559a11cbc288", "4155D7EF-28DD-37EB-2ADF-559A11CBC288",
                "4155d7ef-28dd-37eb-2adf-559a11cbc28", "4155d7ef28dd37eb2adf559a11cbc288", "zzzzzzzz-28dd",
            ]
        case "any": ["json", "xml", "a.b", "aXb", "yaml", "JSON", ""]
        case "path": ["a", "a/b", "a/b/c", "x.txt", "a//b", "a/", "%0Ab", "b%0A", "edit", "../etc/passwd", "a/./b"]
        case "hex": ["ff", "0a1", "xyz", "F0"]
        case "slugpath": ["abc", "ab/cd", "ab/", "a1"]
        case "regex": ["ab1", "abc", "zz9", "ab\u{0663}"]
        default: ["ab", "x", "hello", "a.b", "caf%C3%A9", "%2F", "abcde", "12", "a%20b", "json", "", "é", "%00"]
        }
    }

    /// One mutation: a splice, a deletion, a duplication, a percent-encoding or a case change.
    static func mutate(_ target: String, using random: inout SeededRandom) -> String {
        var scalars = Array(target.unicodeScalars)
        let at = Int.random(in: 0...scalars.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0, 1:
            scalars.insert(contentsOf: random.pick(splices).unicodeScalars, at: at)
        case 2 where !scalars.isEmpty:
            let end = min(scalars.count, at + Int.random(in: 1...4, using: &random))
            scalars.removeSubrange(min(at, scalars.count - 1)..<end)
        case 3 where !scalars.isEmpty:
            let start = Int.random(in: 0..<scalars.count, using: &random)
            let end = min(scalars.count, start + Int.random(in: 1...12, using: &random))
            scalars.insert(contentsOf: scalars[start..<end], at: at)
        case 4 where at < scalars.count:
            // Percent-encode one character as UTF-8, in either case.
            let encoded = String(scalars[at]).utf8.map { byte in
                let hex = String(byte, radix: 16, uppercase: random.chance(0.7))
                return "%" + (hex.count == 1 ? "0" + hex : hex)
            }.joined()
            scalars.replaceSubrange(at...at, with: encoded.unicodeScalars)
        default:
            return random.chance(0.5) ? target.uppercased() : target + random.pick(["?x=1", "?a=%2F&b=c+d", "#f", "?"])
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }
}
