#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging

/// feisty's console log: one plain line per message on stderr, for a person reading a terminal and for `grep`.
///
///     2026-11-30T17:02:11.123Z feisty 127.0.0.1 GET /2024 forward 200 4 1.3ms
///     2026-11-30T17:02:13.480Z feisty warning: the app is unavailable (the app is stopping); answering 503
///     2026-11-30T17:02:13.502Z feisty app stopped status="signal 15 (SIGTERM)"
///
/// A line is the UTC time to the millisecond, `feisty`, the level word only from `warning` up (`warning:`,
/// `error:`, `critical:`: the lines that need a reader's attention), the message, then the metadata as `key=value`
/// sorted by key. swift-log's `StreamLogHandler` also prints the logger's label and the source module
/// (`[FeistyCore]`), which tell a user nothing: every line here is feisty's. Install it once, at startup:
///
///     LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, logLevel: .info) }
public struct ConsoleLogHandler: LogHandler {
    /// The lowest level printed.
    public var logLevel: Logger.Level
    /// Metadata printed on every line of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Metadata looked up for every line (task-local context, for instance).
    public var metadataProvider: Logger.MetadataProvider?
    private let descriptor: Int32

    /// Creates a handler.
    /// - Parameters:
    ///   - label: The logger's label; not printed (every line is feisty's).
    ///   - logLevel: The lowest level printed, `info` by default.
    ///   - descriptor: Where lines go, feisty's stderr by default.
    ///   - metadataProvider: Metadata looked up for every line, the logging system's by default.
    public init(
        label: String,
        logLevel: Logger.Level = .info,
        descriptor: Int32 = STDERR_FILENO,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.logLevel = logLevel
        self.descriptor = descriptor
        self.metadataProvider = metadataProvider
    }

    /// Reads or changes one metadata item of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes the event as one line (`Logger` has already checked its level).
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            merged["error"] = "\(error)"
        }
        let line =
            LogFormat.current == .json
            ? Self.jsonLine(at: .now(), level: event.level, message: event.message.description, metadata: merged)
            : Self.line(at: .now(), level: event.level, message: event.message.description, metadata: merged)
        ConsoleOutput.write(line + "\n", to: descriptor)
    }

    /// The level names `FEISTY_LOG_LEVEL` accepts, lowest first.
    public static let levelNames = Logger.Level.allCases.map(\.rawValue)

    /// The level `name` stands for (`trace` ... `critical`, any case, `warn` too), or `nil`.
    public static func level(named name: String) -> Logger.Level? {
        let name = name.lowercased()
        return name == "warn" ? .warning : Logger.Level(rawValue: name)
    }

    /// One console line, without its newline.
    static func line(
        at time: ConsoleTimestamp,
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        var line = time.iso8601
        line += " feisty "
        if let word = levelWord(level) {
            line += word
            line += ": "
        }
        line += escapingLineBreaks(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += formatted(value)
        }
        return line
    }

    /// One line of `--log-format json`, without its newline: an object with `time`, `level` and `message` first,
    /// then the metadata as fields (a key that would shadow one of the three gets a `meta_` prefix); numbers stay
    /// numbers.
    static func jsonLine(
        at time: ConsoleTimestamp,
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        var members: [(String, JSONValue)] = [
            ("time", .string(time.iso8601)), ("level", .string(level.rawValue)), ("message", .string(message)),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            let name = ["time", "level", "message"].contains(key) ? "meta_" + key : key
            members.append((name, jsonValue(value)))
        }
        return JSONText.object(members)
    }

    /// A metadata value as JSON: integers and floating-point numbers as numbers, lists and dictionaries as such.
    static func jsonValue(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): return .string(string)
        case .stringConvertible(let convertible):
            if let number = convertible as? Int { return .int(number) }
            if let number = convertible as? Int64 { return .int(Int(number)) }
            if let number = convertible as? UInt { return .int(Int(clamping: number)) }
            if let number = convertible as? Double, number.isFinite { return .double(number) }
            if let flag = convertible as? Bool { return .bool(flag) }
            return .string(convertible.description)
        case .array(let values): return .array(values.map(jsonValue))
        case .dictionary(let values): return .object(values.mapValues(jsonValue))
        }
    }

    /// The word printed for `level`: none below `warning`, where the message speaks for itself.
    static func levelWord(_ level: Logger.Level) -> String? {
        switch level {
        case .trace, .debug, .info, .notice: nil
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    /// A metadata value as printed: as is when it is one word, quoted (with `\` escapes) when it has spaces,
    /// quotes, `=` or control characters, or is empty, so that `key=value` pairs stay splittable.
    static func formatted(_ value: Logger.Metadata.Value) -> String {
        let text = plainText(value)
        let needsQuotes =
            text.isEmpty
            || text.unicodeScalars.contains {
                $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0.value == 0x7F
            }
        guard needsQuotes else { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// A value's text before quoting; lists as `[a,b]` and dictionaries as `[k:v]` sorted by key (swift-log's own
    /// description quotes every leaf, which the quoting above would escape again).
    private static func plainText(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(plainText).joined(separator: ",") + "]"
        case .dictionary(let values):
            "[" + values.sorted { $0.key < $1.key }.map { "\($0.key):\(plainText($0.value))" }.joined(separator: ",")
                + "]"
        }
    }

    /// `message` on one line: a line break inside a message would make its second half look like a line of its own.
    private static func escapingLineBreaks(_ message: String) -> String {
        guard message.utf8.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
            return message
        }
        var escaped = ""
        for scalar in message.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
