import Foundation
import Logging
import Testing

@testable import FeistyCore

/// feisty's console log: the time stamp, the one-line format, the level names `FEISTY_LOG_LEVEL` accepts.
@Suite struct ConsoleOutputTests {
    @Test(
        arguments: [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),  // a leap day of a century divisible by 400
            (1_709_251_199, 999, "2024-02-29T23:59:59.999Z"),
            (1_798_675_200, 42, "2026-12-31T00:00:00.042Z"),
            (4_102_444_799, 100, "2099-12-31T23:59:59.100Z"),
            (-1, 0, "1969-12-31T23:59:59.000Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59.000Z"),
            (-62_135_596_800, 0, "0001-01-01T00:00:00.000Z"),
        ] as [(Int64, Int, String)]
    )
    func timestampIsISO8601InUTCWithMilliseconds(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(ConsoleTimestamp(secondsSinceEpoch: seconds, milliseconds: milliseconds).iso8601 == expected)
    }

    @Test func nowIsTodayToTheMillisecond() {
        let before = Date()
        let stamp = ConsoleTimestamp.now()
        let seconds = Double(stamp.secondsSinceEpoch) + Double(stamp.milliseconds) / 1000
        #expect(abs(seconds - before.timeIntervalSince1970) < 2)
        #expect((0...999).contains(stamp.milliseconds))
    }

    /// One console line after its time stamp.
    struct LineCase: Sendable, CustomTestStringConvertible {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata = [:]
        var expected: String
        var testDescription: String { expected }
    }

    @Test(arguments: [
        // The access log: its text is what follows `feisty `, exactly (tests grep it).
        LineCase(
            level: .info,
            message: "127.0.0.1 GET /2024 forward 200 4 1.3ms",
            expected: "feisty 127.0.0.1 GET /2024 forward 200 4 1.3ms"
        ),
        LineCase(
            level: .notice,
            message: "serving app.py on http://127.0.0.1:5000/",
            expected: "feisty serving app.py on http://127.0.0.1:5000/"
        ),
        LineCase(level: .debug, message: "app stderr ended", expected: "feisty app stderr ended"),
        LineCase(level: .trace, message: "x", expected: "feisty x"),
        LineCase(
            level: .warning,
            message: "the app is unavailable (stopping)",
            expected: "feisty warning: the app is unavailable (stopping)"
        ),
        LineCase(level: .error, message: "app.py: no such file", expected: "feisty error: app.py: no such file"),
        LineCase(level: .critical, message: "x", expected: "feisty critical: x"),
        // Metadata sorted by key, after the message.
        LineCase(
            level: .info,
            message: "starting the app",
            metadata: ["internal": "unix:/tmp/f/app-1.sock", "app": "app.py", "generation": "1"],
            expected: "feisty starting the app app=app.py generation=1 internal=unix:/tmp/f/app-1.sock"
        ),
        // Values with spaces, quotes, `=`, line breaks, or nothing at all are quoted, with `\` escapes.
        LineCase(
            level: .info,
            message: "app stopped",
            metadata: ["status": "signal 15 (SIGTERM)"],
            expected: #"feisty app stopped status="signal 15 (SIGTERM)""#
        ),
        LineCase(
            level: .warning,
            message: "odd",
            metadata: ["a": #"say "hi""#, "b": "", "c": "k=v", "d": "1\n2"],
            expected: #"feisty warning: odd a="say \"hi\"" b="" c="k=v" d="1\n2""#
        ),
        LineCase(
            level: .info,
            message: "n",
            metadata: ["port": .stringConvertible(8080), "path": #"C:\x"#],
            expected: #"feisty n path=C:\x port=8080"#
        ),
        LineCase(
            level: .info,
            message: "nested",
            metadata: ["ids": [.stringConvertible(1), "2"], "map": ["b": "x y", "a": "1"]],
            expected: #"feisty nested ids=[1,2] map="[a:1,b:x y]""#
        ),
        // A message stays one line.
        LineCase(level: .error, message: "first\nsecond\r", expected: #"feisty error: first\nsecond\r"#),
    ])
    func lineIsTimeFeistyLevelWordMessageMetadata(_ entry: LineCase) {
        let time = ConsoleTimestamp(secondsSinceEpoch: 1_798_675_200, milliseconds: 7)
        let line = ConsoleLogHandler.line(
            at: time,
            level: entry.level,
            message: entry.message,
            metadata: entry.metadata
        )
        #expect(line == "2026-12-31T00:00:00.007Z " + entry.expected)
    }

    @Test(
        arguments: [
            ("info", Logger.Level.info), ("WARNING", .warning), ("warn", .warning), ("Debug", .debug),
            ("trace", .trace), ("critical", .critical), ("bogus", nil), ("", nil),
        ] as [(String, Logger.Level?)]
    )
    func logLevelNames(name: String, level: Logger.Level?) {
        #expect(ConsoleLogHandler.level(named: name) == level)
    }

    @Test func handlerWritesOneLinePerMessageAtItsLevelWithAllMetadata() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        var logger = Logger(label: "feisty.test") { ConsoleLogHandler(label: $0, descriptor: fds[1]) }
        logger[metadataKey: "generation"] = "2"
        logger.debug("below the level: not printed")
        logger.info("app ready", metadata: ["pid": "42"])
        logger.warning("the app is unavailable")
        logger.error("failed", error: CocoaError(.fileNoSuchFile))
        close(fds[1])
        let text = String(
            decoding: FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile(),
            as: UTF8.self
        )
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count == 4 && lines.last == "")
        let stamp = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /#
        for line in lines.dropLast() { #expect(line.firstMatch(of: stamp) != nil, "\(line)") }
        let bodies = lines.dropLast().map { String($0.dropFirst(25)) }
        #expect(bodies[0] == "feisty app ready generation=2 pid=42")
        #expect(bodies[1] == "feisty warning: the app is unavailable generation=2")
        #expect(bodies[2].hasPrefix("feisty error: failed error=") && bodies[2].hasSuffix(" generation=2"))
    }
}
