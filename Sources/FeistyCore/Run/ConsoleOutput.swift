#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// feisty's console: whole lines written to its stdout or stderr, shared by the app-output relay and feisty's own log.
///
/// One lock for both, so a batch of the app's lines and a log line never interleave mid-line, and one `write(2)` per
/// call: nothing is buffered that a crash could lose, and nothing is held back behind the app's output.
enum ConsoleOutput {
    private static let writeLock = Mutex(())

    /// Writes all of `bytes` to `descriptor`, retrying on `EINTR` and short writes.
    /// - Parameters:
    ///   - bytes: Complete lines, each ending in `\n`.
    ///   - descriptor: feisty's stdout or stderr (or a test's pipe).
    static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        writeLock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Glibc)
                    let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
                #else
                    let written = Darwin.write(descriptor, base + offset, bytes.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // feisty's own stdout/stderr is gone: drop the line rather than fail the app or a request.
                }
                offset += written
            }
        }
    }

    /// Writes `text` (complete lines) to `descriptor`.
    static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0), to: descriptor) }
    }
}
