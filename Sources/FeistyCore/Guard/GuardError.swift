/// Everything that can go wrong in the guard: its flags, the canary file and `feisty replay`'s input.
public enum GuardError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A line of a `--canary-file` is not a pattern (1-based line number).
    case invalidCanaryPattern(file: String, line: Int, text: String, reason: String)
    /// A file could not be read (missing, a folder, not UTF-8).
    case unreadableFile(path: String, reason: String)
    /// `--ipv6-prefix` is outside 1...128.
    case invalidIPv6Prefix(Int)
    /// A value of `--allow`, `--deny` or `--priority`, or a line of an `@file` one names, is no list entry.
    /// `file` and `line` (1-based) are set for a line of a file.
    case invalidListEntry(flag: String, file: String?, line: Int?, text: String)
    /// A line of an `@file` list names another file: lists do not nest.
    case nestedListFile(flag: String, file: String, line: Int, text: String)
    /// The `@file` of `--allow`, `--deny` or `--priority` could not be read.
    case unreadableListFile(flag: String, path: String, reason: String)
    /// `--ban-action nftables`: the `nft` command could not run or refused the change (its error output; not root
    /// gives "Operation not permitted").
    case nftablesFailed(String)

    public var description: String {
        switch self {
        case .invalidCanaryPattern(let file, let line, let text, let reason):
            return "\(file):\(line): not a canary pattern (\(reason)): \(text)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidIPv6Prefix(let length):
            return "--ipv6-prefix \(length) is not a prefix length (1 to 128)"
        case .invalidListEntry(let flag, let file, let line, let text):
            let place = file.map { "line \(line ?? 0) of \($0): " } ?? ""
            return "\(flag): \(place)\"\(text)\" is not an address, CIDR, host name or *.pattern"
        case .nestedListFile(let flag, let file, let line, let text):
            return "\(flag): line \(line) of \(file): \"\(text)\" names another list file; @file lists do not nest"
        case .unreadableListFile(let flag, let path, let reason):
            return "\(flag): cannot read @\(path): \(reason)"
        case .nftablesFailed(let reason):
            return "--ban-action nftables: nft failed: \(reason)"
        }
    }
}
