import Foundation

/// How `feisty routes` prints a table: JSON (the `RouteTable` contract) or a table like `flask routes`.
public enum RouteListing {
    /// The table as pretty JSON with the documented keys.
    public static func json(_ table: RouteTable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable values cannot fail.
        let data = (try? encoder.encode(table)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// A readable table: endpoint, methods (without the implied HEAD and OPTIONS, as `flask routes` shows them),
    /// rule, then where `app.run` would serve and what static extraction could not resolve.
    public static func text(_ table: RouteTable) -> String {
        let showHost = table.rules.contains {
            ($0.host ?? "").isEmpty == false || ($0.subdomain ?? "").isEmpty == false
        }
        var rows: [[String]] = [showHost ? ["Endpoint", "Methods", "Host", "Rule"] : ["Endpoint", "Methods", "Rule"]]
        for rule in table.rules {
            let methods =
                rule.methods.map { all in
                    let shown = all.filter { $0 != "HEAD" && $0 != "OPTIONS" }
                    return (shown.isEmpty ? all : shown).sorted().joined(separator: ", ")
                } ?? "*"
            var rendered = rule.rule
            if let target = rule.redirectTo { rendered += " -> \(target)" }
            let where_ = table.hostMatching ? (rule.host ?? "") : (rule.subdomain ?? "")
            rows.append(showHost ? [rule.endpoint, methods, where_, rendered] : [rule.endpoint, methods, rendered])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        lines.insert(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "), at: 1)
        lines.append("")
        lines.append("\(table.rules.count) rules (\(table.source) extraction); \(runSummary(table))")
        for problem in table.unresolved {
            lines.append("unresolved: \(problem)")
        }
        return lines.joined(separator: "\n")
    }

    /// Where `app.run` serves, or why that is not known (and what `feisty run` then listens on).
    static func runSummary(_ table: RouteTable) -> String {
        let fallback = "\(LaunchedAppRun.fallbackAddress.host):\(LaunchedAppRun.fallbackAddress.port)"
        let at = table.runCall.map { " (\($0))" } ?? ""
        if let port = table.port {
            return "app.run serves on \(table.host ?? "127.0.0.1"):\(port)\(at)"
        }
        if table.runCall == nil {
            return "app.run: not found (feisty run listens on \(fallback))"
        }
        return "app.run\(at): its port is not known from the source (feisty run listens where the running app asks)"
    }
}
