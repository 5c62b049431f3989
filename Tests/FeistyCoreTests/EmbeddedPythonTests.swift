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

    /// What `EmbeddedPython.commandLine` would execute, obtained by asking python3 to print it instead.
    static func embeddedSource() throws -> String {
        let echo = EmbeddedPython.commandLine
            .replacingOccurrences(of: "exec(compile(", with: "import sys;sys.stdout.write((")
            .replacingOccurrences(of: ",'feisty_probe.py','exec'))", with: "))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", echo]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self)
    }

    @Test func commandLineRunsExactlyTheProbeInTheRepository() throws {
        let file = Self.repositoryRoot.appendingPathComponent("Sources/FeistyCore/Python/feisty_probe.py")
        let onDisk = try String(contentsOf: file, encoding: .utf8)
        let embedded = try Self.embeddedSource()
        // Name the first differing line: a stale embed is the usual cause.
        let embeddedLines = embedded.split(separator: "\n", omittingEmptySubsequences: false)
        let diskLines = onDisk.split(separator: "\n", omittingEmptySubsequences: false)
        if let index = Array(zip(embeddedLines, diskLines)).firstIndex(where: { $0 != $1 }) {
            Issue.record("EmbeddedPython.swift is stale at line \(index + 1); run scripts/embed-python")
        }
        #expect(embedded == onDisk, "EmbeddedPython.swift is stale; run scripts/embed-python")
        // The matcher's differential test imports these from the probe.
        #expect(embedded.contains("def describe_rule(rule)"))
        #expect(embedded.contains("def describe_url_map(url_map, app=None)"))
    }

    @Test func commandLineStaysUnderTheLinuxArgumentLimit() {
        #expect(EmbeddedPython.commandLine.utf8.count < 100_000, "one argument may not exceed 128 KiB on Linux")
    }
}
