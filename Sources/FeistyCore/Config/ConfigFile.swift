import Foundation
import TOMLKit

/// Reads a TOML configuration file into its entries, in the order of their lines.
///
/// Keys are the long names of `feisty run`'s flags (`rate`, `max-strikes`; `max_strikes` too). Sections
/// (`[guard]`, `[proxy]`, or dotted keys `guard.rate`) are plain grouping: a key means the same flag whatever section
/// it is in, so a file can be laid out as the operator likes; a section inside a section is an error.
public enum ConfigFile {
    /// The entries of the file at `path`.
    /// - Throws: `ConfigError` when the file cannot be read or is not valid TOML (with the parser's line).
    public static func entries(atPath path: String) throws(ConfigError) -> [ConfigEntry] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read it: \(error.localizedDescription)")
        }
        return try entries(parsing: text, file: path)
    }

    /// The entries of `text`; `file` names it in errors.
    /// - Throws: `ConfigError` when `text` is not valid TOML or nests sections.
    public static func entries(parsing text: String, file: String) throws(ConfigError) -> [ConfigEntry] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, message: error.description)
        } catch {
            throw ConfigError(file: file, line: nil, message: "\(error)")
        }
        let lines = ConfigKeyLines(text: text).lines
        var entries: [ConfigEntry] = []
        for (key, node) in table {
            if let section = node.table, !section.inline {
                for (inner, node) in section {
                    let path = [key, inner]
                    let line = lines[path] ?? lines[[key]] ?? 0
                    if let nested = node.table {
                        throw ConfigError(
                            file: file,
                            line: lines[path + (nested.keys.first.map { [$0] } ?? [])] ?? line,
                            key: path.joined(separator: "."),
                            message: "sections nest one level at most ([section] then key = value)"
                        )
                    }
                    entries.append(ConfigEntry(key: "\(key).\(inner)", name: inner, value: value(of: node), line: line))
                }
            } else {
                entries.append(ConfigEntry(key: key, name: key, value: value(of: node), line: lines[[key]] ?? 0))
            }
        }
        return entries.sorted { ($0.line, $0.key) < ($1.line, $1.key) }
    }

    private static func value(of node: any TOMLValueConvertible) -> ConfigValue {
        switch node.type {
        case .string: return .string(node.string ?? "")
        case .int: return .integer(node.int ?? 0)
        case .double: return .float(node.double ?? 0)
        case .bool: return .boolean(node.bool ?? false)
        case .array: return .array((node.array ?? []).map { value(of: $0) })
        case .table: return .unsupported(typeName: "a table")
        case .date, .time, .dateTime: return .unsupported(typeName: "a date or time")
        }
    }
}
