import Foundation

/// The line of every key in a TOML document, found by reading its lines.
///
/// TOMLKit parses the document (and is what decides whether it is valid TOML), but its Swift API tells a node's
/// source position only for parse errors: toml++ tracks it for every node, the wrapper hides it. So this reads the
/// (already valid) text once more, only as far as it must to know where each key is: table headers, `key =` at the
/// start of a line, and the strings, comments and brackets that can hide either (a multi-line string or array).
struct ConfigKeyLines {
    /// The 1-based line of each key path (`["guard", "rate"]`), table headers included.
    private(set) var lines: [[String]: Int] = [:]

    /// Reads `text`, which TOMLKit has already accepted.
    init(text: String) {
        var section: [String] = []
        var scanner = Scanner()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var rest = Substring(line)
            if scanner.isAtTopLevel {
                let trimmed = rest.drop { $0 == " " || $0 == "\t" }
                if trimmed.hasPrefix("[") {
                    let isArrayOfTables = trimmed.hasPrefix("[[")
                    let inner = trimmed.dropFirst(isArrayOfTables ? 2 : 1)
                    let (path, _) = Self.keyPath(inner, until: "]")
                    section = path
                    lines[path] = lines[path] ?? lineNumber
                    continue
                }
                if !trimmed.isEmpty, !trimmed.hasPrefix("#") {
                    let (path, value) = Self.keyPath(trimmed, until: "=")
                    if !path.isEmpty { lines[section + path] = lineNumber }
                    rest = value
                }
            }
            scanner.scan(rest)
        }
    }

    /// A dotted key (bare or quoted parts) up to `terminator`, and what follows the terminator.
    private static func keyPath(_ text: Substring, until terminator: Character) -> ([String], Substring) {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if let open = quote {
                if character == "\\", open == "\"", text.index(after: index) < text.endIndex {
                    index = text.index(after: index)
                    current.append(text[index])
                } else if character == open {
                    quote = nil
                } else {
                    current.append(character)
                }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "." {
                parts.append(current.trimmingSpaces)
                current = ""
            } else if character == terminator {
                parts.append(current.trimmingSpaces)
                return (parts, text[text.index(after: index)...])
            } else {
                current.append(character)
            }
            index = text.index(after: index)
        }
        return ([], text[text.endIndex...])
    }

    /// Follows strings, comments and brackets across lines.
    private struct Scanner {
        /// The open multi-line string's delimiter (`"""` or `'''`).
        var multiline: String?
        /// Open `[` and `{` (a value continuing on the next lines).
        var depth = 0

        var isAtTopLevel: Bool { multiline == nil && depth == 0 }

        mutating func scan(_ text: Substring) {
            var rest = text
            while !rest.isEmpty {
                if let delimiter = multiline {
                    guard let end = rest.range(of: delimiter) else { return }
                    rest = rest[end.upperBound...]
                    multiline = nil
                    continue
                }
                let character = rest.first!
                if rest.hasPrefix("\"\"\"") || rest.hasPrefix("'''") {
                    multiline = String(rest.prefix(3))
                    rest = rest.dropFirst(3)
                } else if character == "\"" || character == "'" {
                    rest = rest.dropFirst()
                    while let next = rest.first, next != character {
                        rest = rest.dropFirst(next == "\\" && character == "\"" ? 2 : 1)
                    }
                    rest = rest.dropFirst()
                } else if character == "#" {
                    return
                } else {
                    if character == "[" || character == "{" { depth += 1 }
                    if character == "]" || character == "}" { depth = max(0, depth - 1) }
                    rest = rest.dropFirst()
                }
            }
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
