import Foundation

/// Picks, from the app's stderr, the line that best says why it died: the last Python exception line
/// (`ZeroDivisionError: division by zero`, `OSError: [Errno 98] Address already in use`) or the launcher's own
/// `feisty: ...` line, and otherwise the last line that is not a request log line.
struct ErrorLines: Sendable, Hashable {
    /// The last line that looks like an exception (or a launcher error).
    private(set) var exceptionLine: String?
    /// The last non-blank line that is not a server access-log line.
    private(set) var lastLine: String?

    /// Takes one stderr line into account.
    mutating func observe(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !Self.isRequestLogLine(trimmed) else { return }
        lastLine = trimmed
        if Self.isExceptionLine(trimmed) { exceptionLine = trimmed }
    }

    /// Whether `line` is a server's access-log line (`127.0.0.1 - - [date] "GET / HTTP/1.1" 200 -`): those say
    /// nothing about why the app died.
    static func isRequestLogLine(_ line: String) -> Bool {
        guard let dash = line.range(of: " - ") else { return false }
        return !line[..<dash.lowerBound].contains(" ") && line[dash.upperBound...].contains("] \"")
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
