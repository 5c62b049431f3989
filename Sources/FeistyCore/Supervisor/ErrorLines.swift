import Foundation
import Logging

/// Picks, from the app's stderr, the line that best says why it died: the launcher's error report, else the last Python
/// exception line (`ZeroDivisionError: division by zero`, `OSError: [Errno 98] Address already in use`) or launcher
/// error message, and otherwise the last line that is not a request log line. The launcher's warnings
/// (``LauncherLine``) say nothing about an exit and are passed over.
struct ErrorLines: Sendable, Hashable {
    /// The last line that looks like an exception (or a launcher error).
    private(set) var exceptionLine: String?
    /// The last non-blank line that is not a server access-log line.
    private(set) var lastLine: String?
    /// The message of the launcher's JSON error line, the best explanation there is.
    private(set) var launcherError: String?

    /// The line that best explains the exit.
    /// - Parameter afterReady: Whether the app had become ready: then only an actual error line qualifies
    ///   (the last line is likely Werkzeug's banner).
    func explanation(afterReady: Bool) -> String? {
        launcherError ?? exceptionLine ?? (afterReady ? nil : lastLine)
    }

    /// Takes one output line into account.
    mutating func observe(_ line: String) {
        // Under load nearly every line is a request log line: those are ruled out first, on the bytes.
        if Self.isRequestLogLine(line) { return }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !Self.isRequestLogLine(trimmed) else { return }
        if let message = Self.launcherErrorMessage(trimmed) {
            launcherError = message
            return
        }
        if case .message(let level, let text) = LauncherLine(trimmed) {
            if level >= .error { exceptionLine = text }
            return
        }
        lastLine = trimmed
        if Self.isExceptionLine(trimmed) { exceptionLine = trimmed }
    }

    /// The message of a launcher error line: `{"error": {"kind": ..., "message": ...}}`.
    static func launcherErrorMessage(_ line: String) -> String? {
        guard line.hasPrefix("{"), line.contains("\"error\""),
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let error = object["error"]
        else { return nil }
        if let text = error as? String { return text }
        if let detail = error as? [String: Any], let message = detail["message"] as? String { return message }
        return nil
    }

    /// Whether `line` is a server's access-log line (`127.0.0.1 - - [date] "GET / HTTP/1.1" 200 -`): those say
    /// nothing about why the app died.
    static func isRequestLogLine(_ line: String) -> Bool {
        // The first space opens ` - ` (the client field has none), and `] "` (date, then request) follows.
        let bytes = line.utf8
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { return false }
        let rest = bytes[space...]
        guard rest.starts(with: " - ".utf8) else { return false }
        let closing: [UInt8] = Array("] \"".utf8)
        var index = rest.index(space, offsetBy: 3)
        while index < rest.endIndex {
            if rest[index] == closing[0], rest[index...].starts(with: closing) { return true }
            index = rest.index(after: index)
        }
        return false
    }

    /// Whether `line` is the last line of a Python traceback (`pkg.SomeError: message`) or a launcher error.
    static func isExceptionLine(_ line: String) -> Bool {
        let name = line.prefix { $0 != ":" }
        guard !name.isEmpty, name.count < line.count || name.hasSuffix("Error"),
            name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." })
        else { return false }
        return name == "feisty" || ["Error", "Exception", "Exit", "Interrupt"].contains { name.hasSuffix($0) }
    }
}
