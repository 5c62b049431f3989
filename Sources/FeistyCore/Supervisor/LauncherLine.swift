import Foundation
import Logging

/// What one line of the launched app's stderr is to feisty: the app's own output, a message of feisty's launcher, or
/// the launcher's final error report.
///
/// The launcher runs in the app's process and shares its stderr, so its own lines are marked: a message is
/// `::feisty::LEVEL::TEXT` (`feisty_message` in `feisty_probe.py`; LEVEL a swift-log level name), which feisty prints
/// as its own log line, and a failure is the exact JSON `{"error": {"kind": ..., "message": ...}}`, which the
/// supervisor reports once as feisty's error. Anything else, including an app's own JSON log line with an `error`
/// field, is the app's.
enum LauncherLine: Sendable, Hashable {
    /// The app's own output.
    case app
    /// A message of the launcher (`the reloader is disabled ...`) for feisty to print as its own at `level`.
    case message(level: Logger.Level, text: String)
    /// The launcher's error report, with its message; never relayed (the supervisor reports it).
    case errorReport(message: String)

    /// How a launcher message starts.
    static let messageMarker = "::feisty::"

    /// Classifies `line`; the app's lines (nearly all of them) are told apart by their first byte.
    init(_ line: String) {
        switch line.utf8.first {
        case UInt8(ascii: ":"): self = Self.message(in: line) ?? .app
        case UInt8(ascii: "{"): self = Self.errorReport(in: line) ?? .app
        default: self = .app
        }
    }

    private static func message(in line: String) -> LauncherLine? {
        guard line.hasPrefix(messageMarker) else { return nil }
        let rest = line.dropFirst(messageMarker.count)
        guard let separator = rest.range(of: "::"),
            let level = Logger.Level(rawValue: String(rest[..<separator.lowerBound]))
        else { return nil }
        return .message(level: level, text: String(rest[separator.upperBound...]))
    }

    /// The launcher's report has exactly this shape (`json.dumps` spacing); an app's JSON line rarely does.
    private static func errorReport(in line: String) -> LauncherLine? {
        guard line.hasPrefix(#"{"error": {"#),
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            object.count == 1,
            let error = object["error"] as? [String: Any],
            Set(error.keys) == ["kind", "message"],
            error["kind"] is String,
            let message = error["message"] as? String
        else { return nil }
        return .errorReport(message: message)
    }
}
