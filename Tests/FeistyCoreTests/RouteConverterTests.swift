import Testing

@testable import FeistyCore

@Suite struct RouteConverterTests {
    func value(_ ruleText: String, _ target: String) throws -> JSONValue? {
        let matcher = try routeMatcher([rule(ruleText, "e")])
        return matched(matcher.match(method: "GET", target: target))?.1.values.first
    }

    @Test func stringCountsCodePoints() throws {
        #expect(try value("/<string(length=2):c>", "/%C3%A9%C3%A9") == .string("éé"))
        #expect(try value("/<string(length=2):c>", "/abc") == nil)
        #expect(try value("/<string(minlength=2, maxlength=3):c>", "/a") == nil)
        #expect(try value("/<string(minlength=2, maxlength=3):c>", "/abc") == .string("abc"))
        #expect(try value("/<c>", "/a%2Fb") == nil)  // %2F is a real slash
        #expect(try value("/<c>", "/a%0Ab") == .string("a\nb"))
    }

    @Test func pathIsLazyAndStopsAtNewline() throws {
        #expect(try value("/f/<path:p>/edit", "/f/a/b/edit") == .string("a/b"))
        #expect(try value("/f/<path:p>", "/f/a%0Ab") == nil)
        #expect(try value("/f/<path:p>", "/f/%0Ab") == .string("\nb"))
    }

    @Test func anyTriesAlternativesInOrder() throws {
        let matcher = try routeMatcher([rule("/<name>.<any(json, xml, 'a.b'):fmt>", "e")])
        let result = matched(matcher.match(method: "GET", target: "/x.a.b"))
        #expect(result?.1 == ["name": .string("x"), "fmt": .string("a.b")])
        #expect(matched(matcher.match(method: "GET", target: "/a.b.json"))?.1["name"] == .string("a.b"))
        #expect(matcher.match(method: "GET", target: "/x.yaml") == .notFound)
    }

    @Test func intHandlesArgumentsUnicodeDigitsAndHugeValues() throws {
        #expect(try value("/<int:n>", "/%D9%A1%D9%A2") == .int(12))
        #expect(try value("/<int:n>", "/-1") == nil)
        #expect(try value("/<int(signed=True):n>", "/-1") == .int(-1))
        #expect(try value("/<int(fixed_digits=3):n>", "/007") == .int(7))
        #expect(try value("/<int(fixed_digits=3):n>", "/07") == nil)
        #expect(try value("/<int(min=1, max=10):n>", "/10") == .int(10))
        #expect(
            try value("/<int:n>", "/123456789012345678901234567890") == .bigInteger("123456789012345678901234567890")
        )
        // A failing to_python is a 404 for the whole match, even when another rule would match.
        let matcher = try routeMatcher([rule("/<int(max=10):x>", "small"), rule("/<y>", "any")])
        #expect(matcher.match(method: "GET", target: "/20") == .notFound)
        #expect(matcher.gate(method: "GET", target: "/20") == .notFound)
    }

    @Test func mixedSegmentsBacktrackLikePython() throws {
        let matcher = try routeMatcher([rule("/<a>-<int:b>", "e")])
        #expect(matched(matcher.match(method: "GET", target: "/x-1-23"))?.1 == ["a": .string("x-1"), "b": .int(23)])
        let digits = try routeMatcher([rule("/<float:f><int:i>", "e")])
        #expect(matched(digits.match(method: "GET", target: "/1.234"))?.1 == ["f": .double(1.23), "i": .int(4)])
    }

    @Test func floatAndUUID() throws {
        #expect(try value("/<float:f>", "/1.5") == .double(1.5))
        #expect(try value("/<float:f>", "/1") == nil)
        #expect(try value("/<float(signed=True, min=0.5):f>", "/-2.5") == nil)
        #expect(try value("/<float(signed=True, min=0.5):f>", "/0.75") == .double(0.75))
        // Werkzeug's argument grammar has no sign: `min=-1.5` is a malformed rule there too.
        #expect(throws: RouteError.self) { try routeMatcher([rule("/<float(min=-1.5):f>", "e")]) }
        #expect(try value("/<float(signed=True):f>", "/-1.50") == .double(-1.5))
        #expect(
            try value("/<uuid:u>", "/4155D7EF-28DD-37EB-2ADF-559A11CBC288")
                == .string("4155d7ef-28dd-37eb-2adf-559a11cbc288")
        )
        #expect(try value("/<uuid:u>", "/4155D7EF-28DD-37EB-2ADF-559A11CBC28") == nil)
    }

    @Test func customConvertersMatchThroughTheirRegex() throws {
        var custom = rule("/c/<hex:h>.<fmt>", "e")
        custom.converters = [
            ConverterSpec(
                variable: "h",
                converter: "hex",
                kind: "custom",
                regex: "[0-9a-f]+",
                weight: 80,
                partIsolating: true
            ),
            ConverterSpec(
                variable: "fmt",
                converter: "default",
                kind: "string",
                regex: "[^/]{1,}",
                weight: 100,
                partIsolating: true
            ),
        ]
        let matcher = try routeMatcher([custom])
        #expect(matched(matcher.match(method: "GET", target: "/c/%C3%A9ff.x"))?.1 == nil)
        #expect(
            matched(matcher.match(method: "GET", target: "/c/0af.json"))?.1 == [
                "h": .string("0af"), "fmt": .string("json"),
            ]
        )
        var slashy = rule("/s/<slug:s>/end", "e")
        slashy.converters = [
            ConverterSpec(
                variable: "s",
                converter: "slug",
                kind: "custom",
                regex: "[a-z]+(?:/[a-z]+)*",
                weight: 100,
                partIsolating: false
            )
        ]
        let paths = try routeMatcher([slashy])
        #expect(matched(paths.match(method: "GET", target: "/s/ab/cd/end"))?.1 == ["s": .string("ab/cd")])
    }
}
