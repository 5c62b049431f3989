import Synchronization

/// How feisty's console lines are written (`--log-format`): `text` for a person at a terminal, `json` for a log
/// pipeline: one JSON object per line, feisty's messages, its access log (structured fields) and the app's output
/// alike.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-30T17:02:11.123Z feisty message key=value` (``ConsoleLogHandler``).
    case text
    /// `{"time": "...", "level": "info", "message": "...", "key": "value"}`.
    case json

    /// The format of this process's console (chosen once, at start, before anything logs).
    public static var current: LogFormat { selected.load(ordering: .relaxed) == 1 ? .json : .text }

    /// Chooses the format of this process's console.
    public static func select(_ format: LogFormat) {
        selected.store(format == .json ? 1 : 0, ordering: .relaxed)
    }

    private static let selected = Atomic<UInt8>(0)
}
