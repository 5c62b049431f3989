import Foundation
import Logging
import Testing

@testable import FeistyCore

/// The launcher's own lines on the app's stderr: its marked messages become feisty's log lines, its JSON error
/// report is not relayed, and everything else stays the app's.
@Suite struct LauncherOutputTests {
    @Test(
        arguments: [
            (
                "::feisty::warning::the reloader is off",
                LauncherLine.message(level: .warning, text: "the reloader is off")
            ),
            ("::feisty::error::cannot serve: x::y", .message(level: .error, text: "cannot serve: x::y")),
            ("::feisty::info::", .message(level: .info, text: "")),
            ("::feisty::loud::not a level", .app),
            ("::feisty::warning", .app),
            ("::feisty:warning::one colon", .app),
            (#"::1 - - [25/Nov/2026 02:57:15] "GET / HTTP/1.1" 200 -"#, .app),  // an IPv6 client's request log
            (
                #"{"error": {"kind": "not_found", "message": "missing.py: no such file"}}"#,
                .errorReport(message: "missing.py: no such file")
            ),
            (#"{"error": "db down", "at": "12:00"}"#, .app),  // the app's structured log
            (#"{"error": {"kind": "x", "message": "y", "trace": []}}"#, .app),
            (#"{"error": {"kind": "x", "message": "y"}, "level": "error"}"#, .app),
            (#"{"error": {"kind": "x"#, .app),
            ("WARNING: This is a development server.", .app),
            ("", .app),
        ] as [(String, LauncherLine)]
    )
    func classifiesLines(line: String, expected: LauncherLine) {
        #expect(LauncherLine(line) == expected)
    }

    /// Reads what was written to a pipe once its write end is closed.
    private static func drain(_ fds: [Int32]) -> [String] {
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func launcherMessagesArePrintedAsFeistyLinesInOrderAndItsErrorReportNotAtAll() throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        #expect(pipe(&outPipe) == 0 && pipe(&errPipe) == 0)
        let logger = Logger(label: "feisty.launcher") { ConsoleLogHandler(label: $0, descriptor: errPipe[1]) }
        let sink = StandardStreamsAppOutput(outputDescriptor: outPipe[1], errorDescriptor: errPipe[1], logger: logger)
        sink.appWrote(
            [
                " * Debug mode: on",
                "::feisty::warning::the reloader is disabled (it would fork a child feisty cannot supervise)",
                "::feisty::warning::the Werkzeug debugger is disabled (it is a remote console)",
                "WARNING: This is a development server.",
                #"{"error": {"kind": "app_error", "message": "KeyError: 'x'"}}"#,
            ],
            on: .standardError
        )
        // Only the launcher writes markers, and only on stderr: on stdout the line is the app's.
        sink.appWrote(["::feisty::warning::printed by the app"], on: .standardOutput)
        let err = Self.drain(errPipe)
        #expect(Self.drain(outPipe) == ["app| ::feisty::warning::printed by the app"])
        try #require(err.count == 4)
        #expect(err[0] == "app!  * Debug mode: on")
        #expect(
            err[1].hasSuffix(
                "Z feisty warning: the reloader is disabled (it would fork a child feisty cannot supervise)"
            )
        )
        #expect(err[2].hasSuffix("Z feisty warning: the Werkzeug debugger is disabled (it is a remote console)"))
        #expect(err[3] == "app! WARNING: This is a development server.")
        #expect(!err.contains { $0.contains("app_error") })
    }

    @Test func launcherMessagesFollowFeistysLogLevel() {
        var errPipe: [Int32] = [0, 0]
        #expect(pipe(&errPipe) == 0)
        let logger = Logger(label: "feisty.launcher") {
            ConsoleLogHandler(label: $0, logLevel: .error, descriptor: errPipe[1])
        }
        let sink = StandardStreamsAppOutput(errorDescriptor: errPipe[1], logger: logger)
        sink.appWrote(["::feisty::warning::quiet", "app line"], on: .standardError)
        #expect(Self.drain(errPipe) == ["app! app line"])
    }

    @Test func launcherWarningsDoNotExplainAnExitButItsErrorsDo() {
        var lines = ErrorLines()
        lines.observe("::feisty::warning::the Werkzeug debugger is disabled (it is a remote console)")
        #expect(lines.explanation(afterReady: true) == nil)
        #expect(lines.explanation(afterReady: false) == nil)
        lines.observe("::feisty::error::the app's server stopped")
        #expect(lines.explanation(afterReady: true) == "the app's server stopped")
        lines.observe(#"{"error": {"kind": "not_found", "message": "missing.py: no such file"}}"#)
        #expect(lines.explanation(afterReady: true) == "missing.py: no such file")
    }
}
