import Foundation
import Testing

@testable import FeistyCore

/// Memory limits: reading a process group's RSS from `/proc`, and the sustained-over-limit verdict.
@Suite struct HealthMemoryTests {
    let t0 = ContinuousClock.now

    // MARK: /proc/PID/stat

    struct StatCase: Sendable, CustomTestStringConvertible {
        var line: String
        var expected: ProcessTreeMemory.StatFields?
        var testDescription: String { line.prefix(40).description }
    }

    /// Fields 3 to 24 of a real line, with a given state, process group and RSS.
    static func statTail(state: String = "S", group: Int = 4321, rss: Int = 2_500) -> String {
        "\(state) 1 \(group) \(group) 0 -1 4194560 1200 0 0 0 12 3 0 0 20 0 1 0 5000 123456789 \(rss) "
            + "18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0\n"
    }

    @Test(arguments: [
        StatCase(
            line: "4321 (python3) " + statTail(),
            expected: .init(state: 83, processGroup: 4321, residentPages: 2500)
        ),
        // The command may hold spaces and parentheses: the fields start after the last `)`.
        StatCase(
            line: "77 (my (odd) ) name) " + statTail(state: "R", group: 70, rss: 9),
            expected: .init(state: 82, processGroup: 70, residentPages: 9)
        ),
        StatCase(
            line: "78 ()) 1 2 3) " + statTail(group: 1),
            expected: .init(state: 83, processGroup: 1, residentPages: 2500)
        ),
        StatCase(
            line: "5 (z) " + statTail(state: "Z", rss: 0),
            expected: .init(state: 90, processGroup: 4321, residentPages: 0)
        ),
        // Cut short before field 24, or not a stat line at all.
        StatCase(line: "4321 (python3) S 1 4321 4321 0 -1 4194560", expected: nil),
        StatCase(line: "no parenthesis here", expected: nil),
        StatCase(line: "4321 (python3) " + statTail().replacingOccurrences(of: "2500", with: "25x0"), expected: nil),
        StatCase(line: "", expected: nil),
    ])
    func parsesAStatLine(_ testCase: StatCase) {
        let parsed = Array(testCase.line.utf8).withUnsafeBytes { ProcessTreeMemory.parseStat($0) }
        #expect(parsed == testCase.expected)
    }

    // MARK: a real process group

    /// Starts `python3` in a new session running `script`, waits for its first output line (the group id), and
    /// returns the process and that group.
    private func startSession(_ script: String) throws -> (Process, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let prologue = """
            import os, subprocess, sys, time
            try:
                os.setsid()
            except OSError:
                pass  # already a group leader: its group is its own
            """
        process.arguments = ["python3", "-c", prologue + "\n" + script]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let group = Int32(text) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSDebugDescriptionErrorKey: "python said \(text)"])
        }
        return (process, group)
    }

    private func stop(_ process: Process, group: Int32) async throws {
        kill(-group, SIGKILL)
        process.waitUntilExit()
        // A forked child is reaped by init a moment later; as a zombie it already counts as gone.
        for _ in 0..<100 where ProcessTreeMemory.residentBytes(ofProcessGroup: group) != nil {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func sumsTheResidentMemoryOfAProcessGroup() async throws {
        // `bytes * n` writes every byte, so all 60 MB are resident.
        let (process, group) = try startSession(
            "block = b'x' * (60 << 20)\nprint(os.getpgrp(), flush=True)\ntime.sleep(60)"
        )
        let bytes = try #require(ProcessTreeMemory.residentBytes(ofProcessGroup: group))
        #expect(bytes >= 50 << 20)
        #expect(bytes < 200 << 20)
        try await stop(process, group: group)
        #expect(ProcessTreeMemory.residentBytes(ofProcessGroup: group) == nil)
    }

    @Test func countsEveryProcessInTheGroup() async throws {
        // Two processes of about 40 MB each: one alone stays under 70 MB, the sum is above.
        let child = "import time; block = b'y' * (40 << 20); print('ready', flush=True); time.sleep(60)"
        let (process, group) = try startSession(
            """
            block = b'x' * (40 << 20)
            child = subprocess.Popen([sys.executable, '-c', \(String(reflecting: child))], stdout=subprocess.PIPE)
            child.stdout.readline()
            print(os.getpgrp(), flush=True)
            time.sleep(60)
            """
        )
        let bytes = try #require(ProcessTreeMemory.residentBytes(ofProcessGroup: group))
        #expect(bytes >= 75 << 20)
        let both = ProcessTreeMemory.residentBytes(ofProcessGroups: [group, Int32.max])
        #expect(both.keys.sorted() == [group])
        #expect(both[group].map { abs($0 - bytes) < 10 << 20 } == true)  // two scans a moment apart
        try await stop(process, group: group)
        #expect(ProcessTreeMemory.residentBytes(ofProcessGroup: group) == nil)
    }

    @Test(arguments: [Int32.max, -1])
    func anAbsentGroupHasNoMemory(_ group: Int32) {
        // pid_max is at most 2^22, and no process belongs to a negative group.
        #expect(ProcessTreeMemory.residentBytes(ofProcessGroup: group) == nil)
        #expect(ProcessTreeMemory.residentBytes(ofProcessGroups: [group]).isEmpty)
    }

    @Test func readsItsOwnGroup() {
        let bytes = ProcessTreeMemory.residentBytes(ofProcessGroup: getpgrp())
        #expect((bytes ?? 0) > 1 << 20)
    }

    // MARK: MemoryWatch

    /// A verdict in seconds after `t0` and MiB, so that a case table can state it.
    enum Expected: Sendable {
        case within
        case over(since: Double)
        case exceeded(megabytes: Int64, for: Double)
    }

    struct Sample: Sendable {
        var at: Double
        var megabytes: Int64
        var expected: Expected
    }

    private func verdict(_ expected: Expected) -> MemoryVerdict {
        switch expected {
        case .within: .withinLimit
        case .over(let since): .overLimit(since: t0 + .seconds(since))
        case .exceeded(let megabytes, let duration):
            .exceeded(residentBytes: megabytes << 20, limit: 100 << 20, for: .seconds(duration))
        }
    }

    @Test(arguments: [
        (
            "sustained",
            [
                Sample(at: 0, megabytes: 90, expected: .within),
                Sample(at: 1, megabytes: 120, expected: .over(since: 1)),
                Sample(at: 2, megabytes: 130, expected: .over(since: 1)),
                Sample(at: 3.9, megabytes: 110, expected: .over(since: 1)),
                Sample(at: 4, megabytes: 150, expected: .exceeded(megabytes: 150, for: 3)),
                Sample(at: 5, megabytes: 140, expected: .exceeded(megabytes: 140, for: 4)),
            ]
        ),
        (
            "a dip resets",
            [
                Sample(at: 0, megabytes: 120, expected: .over(since: 0)),
                Sample(at: 2, megabytes: 120, expected: .over(since: 0)),
                Sample(at: 2.5, megabytes: 100, expected: .within),  // at the limit is within it
                Sample(at: 3, megabytes: 120, expected: .over(since: 3)),
                Sample(at: 5.5, megabytes: 120, expected: .over(since: 3)),
                Sample(at: 6, megabytes: 101, expected: .exceeded(megabytes: 101, for: 3)),
                Sample(at: 7, megabytes: 20, expected: .within),
                Sample(at: 8, megabytes: 120, expected: .over(since: 8)),
            ]
        ),
    ])
    func memoryMustStayOverTheLimit(_ name: String, _ samples: [Sample]) {
        var watch = MemoryWatch(limit: 100 << 20)
        for sample in samples {
            let actual = watch.sample(residentBytes: sample.megabytes << 20, now: t0 + .seconds(sample.at))
            #expect(actual == verdict(sample.expected), "\(name) at \(sample.at) s")
        }
    }

    @Test func zeroSustainActsOnTheFirstSampleOver() {
        var watch = MemoryWatch(limit: 1000, sustain: .zero)
        #expect(watch.sample(residentBytes: 1000, now: t0) == .withinLimit)
        #expect(watch.sample(residentBytes: 1001, now: t0) == .exceeded(residentBytes: 1001, limit: 1000, for: .zero))
    }

    @Test func describesTheVerdict() {
        let verdict = MemoryVerdict.exceeded(residentBytes: 612 << 20, limit: 512 << 20, for: .milliseconds(3500))
        #expect(verdict.description == "memory 612 MiB above the 512 MiB limit for 3.5 s")
        #expect(MemoryVerdict.mebibytes(1_572_864) == "1.5 MiB")
    }
}
