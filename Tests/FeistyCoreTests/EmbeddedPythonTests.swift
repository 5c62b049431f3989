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

    @Test func commandLineRunsExactlyTheEmbeddedProbe() async throws {
        // The -c bootstrap decompresses the probe; a program that prints what it would exec must print the file.
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
        #expect(String(decoding: output, as: UTF8.self) == EmbeddedPython.probe)
        #expect(EmbeddedPython.commandLine.utf8.count < 100_000, "the -c argument must stay under Linux's 128 KiB")
    }
}
