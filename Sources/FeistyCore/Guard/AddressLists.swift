import Foundation

/// What `--allow`, `--deny` and `--priority` say, parsed but not resolved: see ``ClientListsResolver`` for the
/// host names and reverse patterns, and ``ClientListsSnapshot`` for the lookups.
///
/// Each flag value is an address, a CIDR block, a host name, a reverse pattern (`*.googlebot.com`) or `@PATH`: a
/// file of entries, one per line; blank lines and lines starting with `#` are skipped, and so is the rest of a line
/// after ` #`. A file cannot name another file.
public struct AddressLists: Sendable, Hashable {
    /// `--allow`: never struck, banned or throttled.
    public var allow: [AddressListEntry]
    /// `--deny`: refused like banned clients; wins over `--allow`.
    public var deny: [AddressListEntry]
    /// `--priority`: served first by the admission queue.
    public var priority: [AddressListEntry]

    /// Lists of already parsed entries.
    public init(allow: [AddressListEntry] = [], deny: [AddressListEntry] = [], priority: [AddressListEntry] = []) {
        self.allow = allow
        self.deny = deny
        self.priority = priority
    }

    /// Parses the values of the three flags, reading the `@file`s they name.
    /// - Throws: `GuardError.invalidListEntry`, `.nestedListFile` or `.unreadableListFile`, naming the flag and,
    ///   for a file, its path and line.
    public init(parsingAllow allow: [String], deny: [String], priority: [String]) throws(GuardError) {
        self.allow = try Self.parse(allow, flag: "--allow")
        self.deny = try Self.parse(deny, flag: "--deny")
        self.priority = try Self.parse(priority, flag: "--priority")
    }

    /// Parses the values of one flag.
    /// - Parameters:
    ///   - values: The flag's values, in order.
    ///   - flag: The flag's name for error messages (`--deny`).
    /// - Throws: `GuardError.invalidListEntry`, `.nestedListFile` or `.unreadableListFile`.
    public static func parse(_ values: [String], flag: String) throws(GuardError) -> [AddressListEntry] {
        var entries: [AddressListEntry] = []
        for value in values {
            let trimmed = Substring(value).trimmingASCIISpaces()
            if trimmed.hasPrefix("@") {
                let path = String(trimmed.dropFirst())
                let text: String
                do {
                    text = try String(contentsOfFile: path, encoding: .utf8)
                } catch {
                    throw .unreadableListFile(flag: flag, path: path, reason: FileReadFailure.reason(error, path: path))
                }
                entries += try parse(fileText: text, file: path, flag: flag)
            } else if let entry = AddressListEntry(parsing: trimmed) {
                entries.append(entry)
            } else {
                throw .invalidListEntry(flag: flag, file: nil, line: nil, text: value)
            }
        }
        return entries
    }

    /// Parses the text of an `@file` list.
    /// - Parameters:
    ///   - fileText: The file's contents.
    ///   - file: Its path, for error messages.
    ///   - flag: The flag that named it, for error messages.
    /// - Throws: `GuardError.invalidListEntry` or `.nestedListFile` naming the first bad line (1-based).
    public static func parse(fileText: String, file: String, flag: String) throws(GuardError) -> [AddressListEntry] {
        var entries: [AddressListEntry] = []
        for (index, rawLine) in fileText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let comment = line.range(of: " #") ?? line.range(of: "\t#") { line = line[..<comment.lowerBound] }
            let trimmed = line.trimmingASCIISpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("@") {
                throw .nestedListFile(flag: flag, file: file, line: index + 1, text: String(trimmed))
            }
            guard let entry = AddressListEntry(parsing: trimmed) else {
                throw .invalidListEntry(flag: flag, file: file, line: index + 1, text: String(trimmed))
            }
            entries.append(entry)
        }
        return entries
    }

    /// Whether all three lists are empty (the proxy can skip every lookup).
    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty && priority.isEmpty }

    /// The host names of all three lists, which ``ClientListsResolver`` resolves.
    public var hostNames: Set<String> {
        var names: Set<String> = []
        for (_, entries) in kinds {
            for case .hostName(let name) in entries { names.insert(name) }
        }
        return names
    }

    /// Whether some list has a reverse pattern, so clients need a PTR check.
    public var hasReversePatterns: Bool {
        kinds.contains { _, entries in
            entries.contains { if case .reverse = $0 { true } else { false } }
        }
    }

    /// Each list with the membership it grants.
    var kinds: [(ClientListMembership, [AddressListEntry])] {
        [(.allowed, allow), (.denied, deny), (.priority, priority)]
    }

    /// The reverse patterns of each list, for the PTR check.
    var reversePatterns: [(ClientListMembership, [ReversePattern])] {
        kinds.compactMap { kind, entries in
            var patterns: [ReversePattern] = []
            for case .reverse(let pattern) in entries { patterns.append(pattern) }
            return patterns.isEmpty ? nil : (kind, patterns)
        }
    }
}
