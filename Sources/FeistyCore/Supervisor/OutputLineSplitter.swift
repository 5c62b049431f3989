/// Cuts the app's raw output into lines, whatever the read boundaries: a line split across two reads comes out
/// whole, once its end arrives.
///
/// The app's output is read in chunks (one read can carry many lines when the app logs every request), and the
/// lines of a chunk are passed on together, so the whole chunk costs one write on feisty's side.
struct OutputLineSplitter: Sendable {
    /// A line longer than this is passed on in pieces (the app may print without newlines forever).
    let maximumLineBytes: Int
    private var partial: [UInt8] = []

    /// Creates a splitter.
    /// - Parameter maximumLineBytes: The longest line held back waiting for its end, 64 KiB by default.
    init(maximumLineBytes: Int = 64 * 1024) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// The complete lines `chunk` finishes, without their terminators (`\n`, or `\r\n`).
    mutating func lines(in chunk: UnsafeRawBufferPointer) -> [String] {
        var lines: [String] = []
        var start = 0
        for index in 0..<chunk.count where chunk[index] == UInt8(ascii: "\n") {
            if partial.isEmpty {
                lines.append(Self.line(UnsafeRawBufferPointer(rebasing: chunk[start..<index])))
            } else {
                partial.append(contentsOf: chunk[start..<index])
                lines.append(partial.withUnsafeBytes { Self.line($0) })
                partial.removeAll(keepingCapacity: true)
            }
            start = index + 1
        }
        partial.append(contentsOf: chunk[start...])
        if partial.count > maximumLineBytes {
            lines.append(partial.withUnsafeBytes { Self.line($0) })
            partial.removeAll()
        }
        return lines
    }

    /// The last line if the output ended without a newline.
    mutating func finish() -> String? {
        defer { partial.removeAll() }
        return partial.isEmpty ? nil : partial.withUnsafeBytes { Self.line($0) }
    }

    private static func line(_ bytes: UnsafeRawBufferPointer) -> String {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\r") { bytes = UnsafeRawBufferPointer(rebasing: bytes.dropLast()) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
