#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// Which of the app's output streams a line came from.
public enum AppOutputStream: Sendable, Hashable {
    /// The app's standard output.
    case standardOutput
    /// The app's standard error (Werkzeug's request log goes here).
    case standardError
}

/// Where the app's output lines go, one complete line at a time.
public protocol AppOutputSink: Sendable {
    /// Receives one line of the app's output, without its line terminator.
    /// - Parameters:
    ///   - line: The line.
    ///   - stream: The stream it came from.
    func appWrote(_ line: String, on stream: AppOutputStream)
}

/// Passes the app's output through to feisty's own stdout and stderr, each line prefixed so it stays
/// greppable next to feisty's logs: `app| ` for the app's stdout, `app! ` for its stderr.
///
/// Each line goes out in one `write(2)` under a lock, so lines from the two streams never interleave mid-line.
public struct StandardStreamsAppOutput: AppOutputSink {
    /// The prefix of the app's stdout lines.
    public static let outputPrefix = "app| "
    /// The prefix of the app's stderr lines.
    public static let errorPrefix = "app! "

    private static let writeLock = Mutex(())
    private let outputDescriptor: Int32
    private let errorDescriptor: Int32

    /// Creates the sink.
    /// - Parameters:
    ///   - outputDescriptor: Where the app's stdout lines go, feisty's stdout by default.
    ///   - errorDescriptor: Where the app's stderr lines go, feisty's stderr by default.
    public init(outputDescriptor: Int32 = STDOUT_FILENO, errorDescriptor: Int32 = STDERR_FILENO) {
        self.outputDescriptor = outputDescriptor
        self.errorDescriptor = errorDescriptor
    }

    /// Writes `line` with its prefix to feisty's stdout or stderr.
    public func appWrote(_ line: String, on stream: AppOutputStream) {
        let (descriptor, prefix): (Int32, String) =
            switch stream {
            case .standardOutput: (outputDescriptor, Self.outputPrefix)
            case .standardError: (errorDescriptor, Self.errorPrefix)
            }
        var bytes = Array((prefix + line).utf8)
        bytes.append(UInt8(ascii: "\n"))
        Self.writeLock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // feisty's own stdout is gone: drop the line rather than fail the app.
                    }
                    offset += written
                }
            }
        }
    }
}
