#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging

/// Which of the app's output streams a line came from.
public enum AppOutputStream: Sendable, Hashable {
    /// The app's standard output.
    case standardOutput
    /// The app's standard error (Werkzeug's request log goes here).
    case standardError
}

/// Where the app's output lines go: complete lines, a read's worth at a time (many lines when the app is busy).
public protocol AppOutputSink: Sendable {
    /// Receives complete lines of the app's output, in order, without their line terminators.
    /// - Parameters:
    ///   - lines: The lines.
    ///   - stream: The stream they came from.
    func appWrote(_ lines: [String], on stream: AppOutputStream)
}

/// Passes the app's output through to feisty's own stdout and stderr, each line prefixed so it stays
/// greppable next to feisty's logs: `app| ` for the app's stdout, `app! ` for its stderr.
///
/// Each batch of lines goes out in one `write(2)` under feisty's console lock (``ConsoleOutput``), so lines from the
/// two streams and feisty's log never interleave mid-line, and an app logging every request costs feisty one write
/// per batch, not one per line. The launcher's own lines on the app's stderr (``LauncherLine``) are not the app's:
/// its messages go to feisty's log as feisty's (`feisty warning: the reloader is disabled ...`), and its JSON error
/// report is left to the supervisor, which reports it once.
public struct StandardStreamsAppOutput: AppOutputSink {
    /// The prefix of the app's stdout lines.
    public static let outputPrefix: StaticString = "app| "
    /// The prefix of the app's stderr lines.
    public static let errorPrefix: StaticString = "app! "

    private let outputDescriptor: Int32
    private let errorDescriptor: Int32
    private let logger: Logger

    /// Creates the sink.
    /// - Parameters:
    ///   - outputDescriptor: Where the app's stdout lines go, feisty's stdout by default.
    ///   - errorDescriptor: Where the app's stderr lines go, feisty's stderr by default.
    ///   - logger: Where the launcher's messages go: feisty's log (made after `LoggingSystem.bootstrap`).
    public init(
        outputDescriptor: Int32 = STDOUT_FILENO,
        errorDescriptor: Int32 = STDERR_FILENO,
        logger: Logger = Logger(label: "feisty.launcher")
    ) {
        self.outputDescriptor = outputDescriptor
        self.errorDescriptor = errorDescriptor
        self.logger = logger
    }

    /// Writes `lines`, each with its prefix, to feisty's stdout or stderr; the launcher's lines as described above.
    public func appWrote(_ lines: [String], on stream: AppOutputStream) {
        guard stream == .standardError else {
            Self.write(lines[...], prefix: Self.outputPrefix, to: outputDescriptor)
            return
        }
        var pending = lines.startIndex
        for index in lines.indices {
            let kind = LauncherLine(lines[index])
            if kind == .app { continue }
            // The app's lines before it go out first: the order on the console is the order of the pipe.
            Self.write(lines[pending..<index], prefix: Self.errorPrefix, to: errorDescriptor)
            pending = index + 1
            if case .message(let level, let text) = kind {
                logger.log(level: level, "\(text)")
            }
        }
        Self.write(lines[pending...], prefix: Self.errorPrefix, to: errorDescriptor)
    }

    private static func write(_ lines: ArraySlice<String>, prefix: StaticString, to descriptor: Int32) {
        guard !lines.isEmpty else { return }
        if LogFormat.current == .json {
            // One object per line, like feisty's own: the app's line is the message, its stream a field.
            let stream = prefix.description == outputPrefix.description ? "stdout" : "stderr"
            let time = ConsoleTimestamp.now().iso8601
            var text = ""
            for line in lines {
                text += JSONText.object([
                    ("time", .string(time)), ("level", .string("info")), ("message", .string(line)),
                    ("source", .string("app")), ("stream", .string(stream)),
                ])
                text += "\n"
            }
            ConsoleOutput.write(text, to: descriptor)
            return
        }
        let prefixBytes = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + prefixBytes.count + 1 })
        for line in lines {
            bytes.append(contentsOf: prefixBytes)
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        bytes.withUnsafeBytes { ConsoleOutput.write($0, to: descriptor) }
    }
}
