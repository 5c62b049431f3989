import Foundation
import Testing

@testable import FeistyCore

@Suite struct RouteTableCodingTests {
    @Test func decodesTheProbeFormatWithDefaults() throws {
        let json = #"""
            {"port": 8080, "host": "0.0.0.0", "rules": [{"rule": "/<int:year>", "endpoint": "getyear",
            "methods": ["GET", "HEAD", "OPTIONS"], "converters": [{"variable": "year", "converter": "int",
            "kind": "int", "regex": "\\d+", "weight": 50, "part_isolating": true}]}]}
            """#
        let table = try JSONDecoder().decode(RouteTable.self, from: Data(json.utf8))
        #expect(table.port == 8080)
        #expect(table.rules.count == 1)
        #expect(table.rules[0].strictSlashes)
        #expect(table.rules[0].converters[0].partIsolating)
        #expect(table.redirectDefaults)
    }
}
