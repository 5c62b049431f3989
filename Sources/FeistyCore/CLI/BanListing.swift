import Foundation

/// How `feisty bans list` prints the bans: a table, or one JSON document.
public enum BanListing {
    /// One line per ban: key, until (or `forever`), source, repeat count, reason.
    public static func text(_ records: [BanRecord]) -> String {
        if records.isEmpty { return "no active bans" }
        let header = ["KEY", "UNTIL", "SOURCE", "REPEATS", "REASON"]
        let rows = records.map { record in
            [
                record.ban.key.description, record.ban.until.map(timestamp) ?? "forever",
                record.ban.source.rawValue, String(record.repeatCount), record.ban.reason,
            ]
        }
        let widths = (0..<header.count - 1).map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column < widths.count ? cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) : cell
            }.joined()
        }.joined(separator: "\n")
    }

    /// `{"bans": [{"key", "since", "until" (null: forever), "source", "repeat_count", "reason", "evidence"}]}`,
    /// times in ISO 8601 UTC.
    public static func json(_ records: [BanRecord]) -> String {
        let items = records.map { record in
            JSONText.object([
                ("key", .string(record.ban.key.description)),
                ("since", .string(timestamp(record.ban.since))),
                ("until", record.ban.until.map { .string(timestamp($0)) } ?? .null),
                ("source", .string(record.ban.source.rawValue)),
                ("repeat_count", .int(record.repeatCount)),
                ("reason", .string(record.ban.reason)),
                ("evidence", .string(record.ban.evidence)),
            ])
        }
        return "{\"bans\": [" + items.joined(separator: ", ") + "]}"
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
