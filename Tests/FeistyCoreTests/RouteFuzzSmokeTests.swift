import FeistyCore
import FeistyFuzzing
import Foundation
import Testing

/// A short run of the route fuzzer (bench/fuzz_routes.sh runs millions): generated and mutated request targets on
/// the Werkzeug oracle's random route tables, every `RouteInvariants` holding, in a few seconds.
@Suite struct RouteFuzzSmokeTests {
    @Test func invariantsHoldOnGeneratedRequests() throws {
        let oracle = try DifferentialTests.runOracle(seed: 7, rulesets: 40, requests: 0)
        let report = InvariantFuzzer.run(tables: oracle.rulesets.map(\.table), cases: 3_000, seed: 7)
        #expect(report.tables == 40)
        #expect(report.cases == 3_000)
        #expect(
            report.failures.isEmpty,
            "\(report.failures.count) failures:\n\(report.failures.prefix(10).joined(separator: "\n"))"
        )
        // The run is only worth something if the generated requests reach every kind of decision.
        for kind in ["forward-rule", "forward-other", "404", "405", "bad-host"] {
            #expect(report.kinds[kind, default: 0] > 0, "no \(kind) decision in the run: \(report.kinds)")
        }
    }

    /// The invariants themselves catch a gate that disagrees with `match`.
    @Test func aGateThatDisagreesIsReported() {
        #expect(RouteInvariants.gateDisagreement(.notFound, .forward(rule: 0)) != nil)
        #expect(RouteInvariants.gateDisagreement(.methodNotAllowed(allowed: ["GET"]), .notFound) != nil)
        #expect(RouteInvariants.gateDisagreement(.redirect(location: "/a/"), .forward(rule: nil)) == nil)
        #expect(RouteInvariants.gateDisagreement(.redirect(location: "/a/"), .notFound) != nil)
    }
}
