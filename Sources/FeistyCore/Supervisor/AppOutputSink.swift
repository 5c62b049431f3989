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
/// Each batch of lines goes out in one `write(2)` under a lock, so lines from the two streams never interleave
/// mid-line, and an app logging every request costs feisty one write per batch, not one per line.
public struct StandardStreamsAppOutput: AppOutputSink {
    /// The prefix of the app's stdout lines.
    public static let outputPrefix: StaticString = "app| "
    /// The prefix of the app's stderr lines.
    public static let errorPrefix: StaticString = "app! "

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

    /// Writes `lines`, each with its prefix, to feisty's stdout or stderr.
    public func appWrote(_ lines: [String], on stream: AppOutputStream) {
        let (descriptor, prefix): (Int32, StaticString) =
            switch stream {
            case .standardOutput: (outputDescriptor, Self.outputPrefix)
            case .standardError: (errorDescriptor, Self.errorPrefix)
            }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + prefix.utf8CodeUnitCount + 1 })
        for line in lines {
            bytes.append(contentsOf: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
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
