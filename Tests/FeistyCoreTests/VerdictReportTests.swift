import Testing

@testable import FeistyCore

@Suite struct VerdictReportTests {
    @Test func matchKeepsArgumentOrderAndPrintsHugeIntegersExactly() {
        let verdict = RouteVerdict.match(
            endpoint: "getyear",
            ruleIndex: 2,
            arguments: [("year", .bigInteger("123456789012345678901234567890")), ("b", .string("x\"y"))]
        )
        #expect(
            VerdictReport.json(verdict)
                == #"{"outcome": "match", "status": 200, "endpoint": "getyear", "args": {"year": 123456789012345678901234567890, "b": "x\"y"}}"#
        )
    }

    @Test func otherOutcomesHaveTheDocumentedShape() {
        #expect(
            VerdictReport.json(.redirect(location: "http://localhost/docs/"))
                == #"{"outcome": "redirect", "status": 308, "location": "http://localhost/docs/"}"#
        )
        #expect(VerdictReport.json(.notFound) == #"{"outcome": "not_found", "status": 404}"#)
        #expect(
            VerdictReport.json(.methodNotAllowed(allowed: ["GET", "HEAD", "OPTIONS"]), id: .int(7))
                == #"{"id": 7, "outcome": "method_not_allowed", "status": 405, "allowed": ["GET", "HEAD", "OPTIONS"]}"#
        )
    }

    @Test func batchAnswersAMalformedLineWithoutStopping() throws {
        let matcher = try RouteMatcher(table: RouteTable(rules: []))
        let batch = BatchMatch(matcher: matcher, defaultHost: "localhost", json: true)
        #expect(batch.answer(line: "{not json").contains(#""outcome": "error""#))
        #expect(
            batch.answer(line: #"{"id": "a", "method": "GET", "path": "/nope"}"#)
                == #"{"id": "a", "outcome": "not_found", "status": 404}"#
        )
    }

    @Test func controlCharactersAreEscaped() {
        #expect(JSONText.encode(.string("a\u{1}\n")) == #""a\u0001\n""#)
        #expect(JSONText.encode(.double(1.5)) == "1.5")
    }
}
