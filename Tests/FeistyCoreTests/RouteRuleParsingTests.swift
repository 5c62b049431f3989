import Testing

@testable import FeistyCore

@Suite struct RouteRuleParsingTests {
    @Test func tokenizesLikePartRe() throws {
        let tokens = try RuleSyntax.tokenize("/a/<int(min=1):id>.<fmt>")
        #expect(
            tokens == [
                .slash, .staticText("a"), .slash, .variable(converter: "int", arguments: "min=1", name: "id"),
                .staticText("."), .variable(converter: nil, arguments: nil, name: "fmt"),
            ]
        )
    }

    @Test func rejectsMalformedRules() {
        #expect(throws: RouteError.self) { try RuleSyntax.tokenize("/a/<1bad>") }
        #expect(throws: RouteError.self) { try routeMatcher([rule("no-slash", "x")]) }
        #expect(throws: RouteError.self) { try routeMatcher([rule("/<nosuch:x>", "x")]) }
    }

    @Test func parsesConverterArgumentsLikeWerkzeug() throws {
        let (positional, keyword) = try RuleSyntax.parseArguments(
            #"1, 2.5, 'a,b', "q", True, None, x = 7, y=abc"#,
            rule: "/"
        )
        #expect(positional == [.int(1), .float(2.5), .string("a,b"), .string("q"), .bool(true), .none])
        #expect(keyword.map(\.0) == ["x", "y"])
        #expect(keyword.map(\.1) == [.int(7), .string("abc")])
        #expect(RuleSyntax.pythonize("1_000") == .int(1000))
        #expect(RuleSyntax.pythonize("1e3") == .float(1000))
    }

    @Test func escapesLikeReEscape() {
        #expect(RuleSyntax.reEscape("a.b-c d/é") == #"a\.b\-c\ d/é"#)
    }

    @Test func buildsWerkzeugPartContentAndWeights() throws {
        let compiled = try CompiledRule(rule("/x.y/<int:a>-<b>", "e"), tableIndex: 0, table: RouteTable(rules: []))
        #expect(
            compiled.parts.map(\.content) == ["", "", "x.y", #"(?P<__werkzeug_0>\d+)\-(?P<__werkzeug_1>[^/]{1,})\Z"#]
        )
        let dynamic = compiled.parts[3].weight
        #expect(
            dynamic
                == Weighting(
                    numberStaticWeights: -1,
                    staticWeights: [0, -1],
                    numberArgumentWeights: -2,
                    argumentWeights: [50, 100]
                )
        )
        let path = try CompiledRule(rule("/f/<path:p>/", "e"), tableIndex: 0, table: RouteTable(rules: []))
        #expect(path.parts.last!.content == "")
        #expect(path.parts[path.parts.count - 2].isSuffixed)
        #expect(path.parts[path.parts.count - 2].content == #"(?P<__werkzeug_0>[^/].*?)(?<!/)(/?)\Z"#)
    }

    @Test func ordersDynamicPartsByWeight() throws {
        // int (50) is tried before the default converter (100), path (200) last, whatever the order.
        let matcher = try routeMatcher([rule("/<path:p>", "path"), rule("/<s>", "string"), rule("/<int:n>", "int")])
        #expect(matched(matcher.match(method: "GET", target: "/5"))?.0 == "int")
        #expect(matched(matcher.match(method: "GET", target: "/x"))?.0 == "string")
        #expect(matched(matcher.match(method: "GET", target: "/x/y"))?.0 == "path")
        // Static transitions come first.
        let statics = try routeMatcher([rule("/<s>", "string"), rule("/about", "about")])
        #expect(matched(statics.match(method: "GET", target: "/about"))?.0 == "about")
    }

    @Test func registrationOrderBreaksTies() throws {
        var first = rule("/x", "b")
        first.registrationIndex = 1
        var second = rule("/x", "a")
        second.registrationIndex = 0
        let matcher = try routeMatcher([first, second])
        #expect(matched(matcher.match(method: "GET", target: "/x"))?.0 == "a")
    }

    @Test func translatesPythonRegexToICU() throws {
        let translated = try #require(PythonRegexTranslation.translate(#"(?P<__werkzeug_0>[a-z].(?P=__werkzeug_0))\Z"#))
        #expect(translated.pattern == #"([a-z][^\n](?:\1))\z"#)
        #expect(translated.werkzeugGroups == [1])
    }
}
