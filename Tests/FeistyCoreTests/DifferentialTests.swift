import FeistyCore
import FeistyFuzzing
import Foundation
import Testing

/// The matcher against Werkzeug itself: `tests/differential/werkzeug_oracle.py` builds seeded random Flask
/// apps, sends generated request targets through the dev server's request handling and Flask's map
/// binding, and records Werkzeug's verdicts; every case must get the same verdict here.
///
/// The WebSocket run (`--websocket`) adds `websocket=True` rules and `Connection`/`Upgrade` fields: the
/// handshake test (`isWebSocketHandshake`) reads the fields as the dev server parsed them, and the verdict
/// must still be Werkzeug's.
///
/// `FEISTY_DIFF_SEED` (default 1) and `FEISTY_DIFF_CASES` (default 4000) select the run.
@Suite struct DifferentialTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func runOracle(
        seed: Int,
        rulesets: Int,
        requests: Int,
        websocket: Bool = false
    ) throws -> WerkzeugOracleOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot.appendingPathComponent("tests/differential/werkzeug_oracle.py").path,
            "--seed", String(seed), "--rulesets", String(rulesets), "--requests", String(requests),
        ]
        if websocket { process.arguments!.append("--websocket") }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the oracle failed")
        return try JSONDecoder().decode(WerkzeugOracleOutput.self, from: data)
    }

    static func check(seed: Int, cases: Int, websocket: Bool) throws -> WerkzeugDifferential.Run {
        let requests = 50
        let oracle = try Self.runOracle(
            seed: seed,
            rulesets: max(1, cases / requests),
            requests: requests,
            websocket: websocket
        )
        var run = WerkzeugDifferential.Run()
        WerkzeugDifferential.check(oracle, into: &run)
        return run
    }

    static var seed: Int { ProcessInfo.processInfo.environment["FEISTY_DIFF_SEED"].flatMap(Int.init) ?? 1 }
    static var cases: Int { ProcessInfo.processInfo.environment["FEISTY_DIFF_CASES"].flatMap(Int.init) ?? 4000 }

    @Test func agreesWithWerkzeug() throws {
        let run = try Self.check(seed: Self.seed, cases: Self.cases, websocket: false)
        #expect(run.checked > Self.cases / 2, "the oracle produced too few cases")
        #expect(
            run.failures.isEmpty,
            "\(run.failures.count) of \(run.checked) cases disagree:\n\(run.failures.prefix(15).joined(separator: "\n"))"
        )
        print("differential: seed \(Self.seed), \(run.checked) cases, \(run.failures.count) disagreements")
    }

    /// Apps with `websocket=True` rules, requests with and without handshakes.
    @Test func agreesWithWerkzeugOnWebSockets() throws {
        let run = try Self.check(seed: Self.seed, cases: Self.cases, websocket: true)
        #expect(run.checked > Self.cases / 2, "the oracle produced too few cases")
        #expect(
            run.failures.isEmpty,
            "\(run.failures.count) of \(run.checked) cases disagree:\n\(run.failures.prefix(15).joined(separator: "\n"))"
        )
        // The run is only worth something if it met every WebSocket outcome.
        for kind in [
            "match websocket", "match plain", "websocket_mismatch websocket", "websocket_mismatch plain",
            "405 websocket", "redirect ws: websocket", "404 websocket",
        ] {
            #expect(run.kinds[kind, default: 0] > 0, "no \(kind) case in the run: \(run.kinds)")
        }
        print(
            "differential (WebSocket): seed \(Self.seed), \(run.checked) cases, \(run.failures.count) disagreements,"
                + " \(run.kinds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))"
        )
    }
}
