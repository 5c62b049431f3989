import Foundation
import Testing

@testable import FeistyCore

/// The probe feisty runs is the one in the repository: EmbeddedPython.swift must be regenerated
/// (scripts/embed-python) whenever feisty_probe.py changes.
@Suite struct EmbeddedPythonTests {
    /// The repository root, found from this file's location (Tests/FeistyCoreTests/ThisFile.swift).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func embeddedProbeIsTheSourceFile() throws {
        let source = Self.repositoryRoot.appendingPathComponent("Sources/FeistyCore/Python/feisty_probe.py")
        let onDisk = try String(contentsOf: source, encoding: .utf8)
        // Compare line by line first so a failure names the first differing line, then exactly.
        let embeddedLines = EmbeddedPython.probe.split(separator: "\n", omittingEmptySubsequences: false)
        let diskLines = onDisk.split(separator: "\n", omittingEmptySubsequences: false)
        if let index = Array(zip(embeddedLines, diskLines)).firstIndex(where: { $0 != $1 }) {
            Issue.record("EmbeddedPython.swift is stale at line \(index + 1); run scripts/embed-python")
        }
        #expect(EmbeddedPython.probe == onDisk, "EmbeddedPython.swift is stale; run scripts/embed-python")
    }

    @Test func embeddedProbeKeepsTheSerializerNames() {
        // The matcher's differential test imports these from the probe.
        #expect(EmbeddedPython.probe.contains("def describe_rule(rule)"))
        #expect(EmbeddedPython.probe.contains("def describe_url_map(url_map, app=None)"))
    }
}
