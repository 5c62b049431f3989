import FeistyCore
import FeistyFuzzing
import Foundation

/// The route fuzzer, driven by bench/fuzz_routes.sh:
///
///     feisty-fuzz invariants ORACLE.json CASES SEED   # generated requests on the oracle's tables, invariants only
///     feisty-fuzz diff ORACLE.json...                 # every oracle case: the same verdict as Werkzeug
///
/// `ORACLE.json` is what tests/differential/werkzeug_oracle.py prints. Prints one `RESULT` line, the first
/// failures, and exits 1 when anything failed.
@main
struct FuzzMain {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "invariants" where arguments.count == 4:
            let oracle = try load(arguments[1])
            guard let cases = Int(arguments[2]), let seed = UInt64(arguments[3]) else { usage() }
            let report = InvariantFuzzer.run(tables: oracle.rulesets.map(\.table), cases: cases, seed: seed)
            let kinds = report.kinds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print(
                "RESULT invariants seed \(seed) tables \(report.tables) cases \(report.cases)"
                    + " failures \(report.failures.count) \(kinds)"
            )
            print("slowest \(String(format: "%.4f", report.slowest.seconds)) s: \(report.slowest.request.prefix(300))")
            finish(report.failures)
        case "diff" where arguments.count >= 2:
            var run = WerkzeugDifferential.Run()
            for path in arguments.dropFirst() { WerkzeugDifferential.check(try load(path), into: &run) }
            print("RESULT diff cases \(run.checked) disagreements \(run.failures.count)")
            finish(run.failures)
        default:
            usage()
        }
    }

    static func load(_ path: String) throws -> WerkzeugOracleOutput {
        try JSONDecoder().decode(WerkzeugOracleOutput.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func finish(_ failures: [String]) -> Never {
        for failure in failures.prefix(30) { print("FAIL \(failure.prefix(2000))") }
        exit(failures.isEmpty ? 0 : 1)
    }

    static func usage() -> Never {
        FileHandle.standardError.write(
            Data("usage: feisty-fuzz invariants ORACLE.json CASES SEED | feisty-fuzz diff ORACLE.json...\n".utf8)
        )
        exit(2)
    }
}
