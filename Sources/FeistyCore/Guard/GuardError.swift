/// Everything that can go wrong in the guard: its flags, the canary file and `feisty replay`'s input.
public enum GuardError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A line of a `--canary-file` is not a pattern (1-based line number).
    case invalidCanaryPattern(file: String, line: Int, text: String, reason: String)
    /// A file could not be read (missing, a folder, not UTF-8).
    case unreadableFile(path: String, reason: String)
    /// `--ipv6-prefix` is outside 1...128.
    case invalidIPv6Prefix(Int)

    public var description: String {
        switch self {
        case .invalidCanaryPattern(let file, let line, let text, let reason):
            return "\(file):\(line): not a canary pattern (\(reason)): \(text)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidIPv6Prefix(let length):
            return "--ipv6-prefix \(length) is not a prefix length (1 to 128)"
        }
    }
}
