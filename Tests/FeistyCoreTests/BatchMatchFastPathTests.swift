import Testing

@testable import FeistyCore

/// `feisty match --batch` reads the usual lines with its own strict parser and writes verdicts as bytes; every line
/// must get exactly the bytes the general path (`JSONDecoder`, then the verdict) gives it.
@Suite struct BatchMatchFastPathTests {
    static let table = RouteTable(rules: [
        RouteRule(rule: "/", endpoint: "index"),
        RouteRule(rule: "/<int:year>", endpoint: "year"),
        RouteRule(
            rule: "/user/<name>",
            endpoint: "user",
            converters: [
                ConverterSpec(
                    variable: "name",
                    converter: "default",
                    kind: "default",
                    regex: "[^/]+",
                    weight: 100,
                    partIsolating: true
                )
            ]
        ),
        RouteRule(rule: "/docs/", endpoint: "docs"),
        RouteRule(rule: "/ws", endpoint: "ws", websocket: true),
    ])

    /// Lines the fast path must read, and lines it must leave to the decoder (escapes of every kind, Unicode,
    /// surrogate pairs, odd numbers, repeated or unknown keys, broken JSON).
    static let corpus: [String] = [
        #"{"id": 1, "method": "GET", "path": "/2024"}"#,
        #"{"id":1,"method":"GET","path":"/2024"}"#,
        #"  { "id" : 7 , "method" : "POST" , "path" : "/user/bob" }  "#,
        "{\"id\":\t2,\r\"method\": \"GET\", \"path\": \"/docs\"}",
        #"{"method": "GET", "path": "/"}"#,
        #"{"id": null, "method": "GET", "path": "/"}"#,
        #"{"id": "a\"b", "method": "GET", "path": "/user/a\\b"}"#,
        #"{"id": "x", "method": "GET", "path": "/user/a\/b\n\t\b\f\r"}"#,
        #"{"id": true, "method": "GET", "path": "/"}"#,
        #"{"id": false, "method": "GET", "path": "/"}"#,
        #"{"id": -42, "method": "GET", "path": "/"}"#,
        #"{"id": 0, "method": "GET", "path": "/"}"#,
        #"{"id": 123456789012345678, "method": "GET", "path": "/"}"#,
        #"{"id": 1234567890123456789, "method": "GET", "path": "/"}"#,
        #"{"id": 12345678901234567890123, "method": "GET", "path": "/"}"#,
        #"{"id": -0, "method": "GET", "path": "/"}"#,
        #"{"id": 01, "method": "GET", "path": "/"}"#,
        #"{"id": 1.5, "method": "GET", "path": "/"}"#,
        #"{"id": 1e3, "method": "GET", "path": "/"}"#,
        #"{"id": 2.0, "method": "GET", "path": "/"}"#,
        #"{"id": [1, 2], "method": "GET", "path": "/"}"#,
        #"{"id": {"b": 1, "a": [null]}, "method": "GET", "path": "/"}"#,
        #"{"id": 1, "method": "GET", "path": "/ws", "websocket": true}"#,
        #"{"id": 1, "method": "GET", "path": "/ws", "websocket": false}"#,
        #"{"id": 1, "method": "GET", "path": "/ws", "websocket": null}"#,
        #"{"id": 1, "method": "GET", "path": "/ws", "websocket": 1}"#,
        #"{"id": 1, "method": "GET", "path": "/", "host": "example.com:5000"}"#,
        #"{"id": 1, "method": "GET", "path": "/", "host": null}"#,
        #"{"id": 1, "method": "GET", "path": "/", "host": "a..b"}"#,
        #"{"id": 1, "method": "GET", "path": "/", "host": 5}"#,
        #"{"id": 1, "method": "GET", "path": "/user/\u00e9"}"#,
        #"{"id": 1, "method": "GET", "path": "/user/\ud83d\ude00"}"#,
        #"{"id": 1, "method": "GET", "path": "/user/\ud83d"}"#,
        #"{"id": 1, "method": "GET", "path": "/user/\u0000x"}"#,
        #"{"id": "\u00e9", "method": "GET", "path": "/"}"#,
        "{\"id\": 1, \"method\": \"GET\", \"path\": \"/user/caf\u{E9}\"}",
        "{\"id\": \"\u{1F600}\", \"method\": \"GET\", \"path\": \"/user/\u{1F600}\"}",
        "{\"id\": 1, \"method\": \"GET\", \"path\": \"/user/a\u{1}b\"}",
        "{\"id\": 1, \"method\": \"GET\", \"path\": \"/user/\u{7F}\"}",
        #"{"id": 1, "method": "GET", "path": "/user/\x"}"#,
        #"{"id": 1, "method": "GET", "path": "/user/x\"}"#,
        #"{"id": 1, "id": 2, "method": "GET", "path": "/"}"#,
        #"{"id": 1, "method": "GET", "path": "/", "extra": {"a": [1, 2]}}"#,
        #"{"id": 1, "method": "GET", "path": "/", "extra": }"#,
        #"{"i\u0064": 1, "method": "GET", "path": "/"}"#,
        #"{"id": 1, "method": "GET"}"#,
        #"{"id": 1, "path": "/"}"#,
        #"{"id": 1, "method": 5, "path": "/"}"#,
        #"{"id": 1, "method": "GET", "path": "/",}"#,
        #"{"id": 1, "method": "GET", "path": "/"} x"#,
        #"{"id": 1, "method": "GET", "path": "/"}}"#,
        #"{"id": 1 "method": "GET", "path": "/"}"#,
        #"{"id": tru, "method": "GET", "path": "/"}"#,
        #"{}"#,
        #"[]"#,
        #""/2024""#,
        #"null"#,
        "{not json",
        "",
        #"{"id": 1, "method": "get", "path": "/2024?x=1#f"}"#,
        #"{"id": 1, "method": "BREW", "path": "/docs"}"#,
        #"{"id": 1, "method": "GET", "path": "//2024"}"#,
        #"{"id": 1, "method": "GET", "path": "/%32%30%32%34"}"#,
        #"{"id": 1, "method": "GET", "path": "http://example.com/2024"}"#,
    ]

    @Test(arguments: [true, false])
    func everyLineGetsTheGeneralPathsBytes(json: Bool) throws {
        let batch = BatchMatch(matcher: try RouteMatcher(table: Self.table), defaultHost: "localhost", json: json)
        for line in Self.corpus {
            #expect(batch.answer(line: line) == batch.answerDecoding(line: line), "\(line)")
        }
    }

    /// The comparison above is not empty: the usual shapes do take the fast path, the rest does not.
    @Test func theFastPathTakesTheUsualShapesOnly() {
        func parsed(_ line: String) -> BatchRequestLine? {
            var line = line
            return line.withUTF8 { BatchRequestLine.parse($0) }
        }
        #expect(parsed(#"{"id": 1, "method": "GET", "path": "/2024"}"#)?.path == "/2024")
        #expect(parsed(#"{"id": "x", "method": "GET", "path": "/a\/b\n"}"#)?.path == "/a/b\n")
        #expect(parsed(#"{"method": "GET", "path": "/", "host": "h", "websocket": true}"#)?.websocket == true)
        #expect(parsed(#"{"id": 1, "method": "GET", "path": "/\u00e9"}"#) == nil)
        #expect(parsed(#"{"id": 1.5, "method": "GET", "path": "/"}"#) == nil)
        #expect(parsed(#"{"id": 1, "id": 2, "method": "GET", "path": "/"}"#) == nil)
        #expect(parsed(#"{"id": 1, "method": "GET", "path": "/", "x": 1}"#) == nil)
    }

    @Test func blankLinesAreWhatReadLineCallsWhitespace() {
        func blank(_ line: String) -> Bool {
            var line = line
            return line.withUTF8 { BatchMatch.isBlank($0) }
        }
        #expect(blank(""))
        #expect(blank(" \t\u{0B}\u{0C}\r"))
        #expect(blank("\u{A0}\u{2028}"))
        #expect(!blank(" x "))
        #expect(!blank("\u{E9}"))
    }

    @Test(arguments: [0, 7, -7, 10, 99, 100, Int.max, Int.min, 1_000_000_007])
    func integersAreSpelledAsStringDoes(number: Int) {
        var out: [UInt8] = []
        JSONText.writeInt(number, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(number))
    }
}

extension BatchRequestLine: Equatable {
    public static func == (lhs: BatchRequestLine, rhs: BatchRequestLine) -> Bool {
        lhs.id == rhs.id && lhs.method == rhs.method && lhs.path == rhs.path && lhs.host == rhs.host
            && lhs.websocket == rhs.websocket
    }
}
