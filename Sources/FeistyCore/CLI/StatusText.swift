import Foundation

/// How `feisty status` prints a ``StatusReport`` for people: a few aligned sections.
public enum StatusText {
    /// How many events and routes are shown.
    public static let eventLimit = 10
    public static let routeLimit = 10

    /// The whole report as text.
    public static func render(_ report: StatusReport) -> String {
        var lines = [feistyLine(report.feisty)]
        lines += traffic(report.traffic)
        lines += instances(report.instances)
        lines += events(report.events)
        lines += guardSection(report.guard)
        lines += routes(report.routes)
        return lines.joined(separator: "\n")
    }

    static func feistyLine(_ feisty: StatusReport.Feisty) -> String {
        var parts = ["feisty \(feisty.version)", "pid \(feisty.pid)", "up \(duration(feisty.uptimeSeconds))"]
        if let rss = feisty.rssBytes { parts.append("rss \(bytes(rss))") }
        parts.append(feisty.ready ? "ready" : "NOT READY")
        parts.append("\(feisty.app) on \(feisty.listen.map { "http://\($0)/" } ?? "(not listening yet)")")
        parts.append(feisty.guard ? "guard on" : "guard off")
        return parts.joined(separator: "  ")
    }

    static func traffic(_ traffic: StatusReport.Traffic?) -> [String] {
        guard let traffic else { return ["", "traffic    not measured"] }
        var summary = "\(traffic.requests) requests  \(traffic.inFlight) in flight  \(traffic.queueDepth) queued"
        if let latency = traffic.latencyMs { summary += "  p50 \(millis(latency.p50))  p99 \(millis(latency.p99))" }
        if let latency = traffic.upstreamLatencyMs {
            summary += "  (app p50 \(millis(latency.p50))  p99 \(millis(latency.p99)))"
        }
        var lines = ["", "traffic    \(summary)"]
        let verdicts = traffic.byVerdict.filter { $0.value > 0 }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
        if !verdicts.isEmpty {
            lines.append("  verdicts " + verdicts.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
        }
        let statuses = traffic.byStatus.sorted { $0.key < $1.key }
        if !statuses.isEmpty {
            lines.append("  statuses " + statuses.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
        }
        return lines
    }

    static func instances(_ instances: [StatusReport.Instance]) -> [String] {
        guard !instances.isEmpty else { return ["", "instances  none (the app runs elsewhere, or is starting)"] }
        let rows = instances.map { instance in
            [
                String(instance.id), instance.pid.map(String.init) ?? "-", instance.state,
                duration(instance.ageSeconds), instance.rssBytes.map(bytes) ?? "-",
                instance.requests.map(String.init) ?? "-", instance.address ?? "-",
            ]
        }
        return ["", "instances"] + table(["ID", "PID", "STATE", "AGE", "RSS", "REQUESTS", "ADDRESS"], rows)
    }

    static func events(_ events: [StatusReport.Event]) -> [String] {
        guard !events.isEmpty else { return ["", "events     none yet"] }
        let rows = events.suffix(eventLimit).map { event in
            [time(event.at), event.kind, event.instance.map { "instance \($0)" } ?? "", event.cause]
        }
        return ["", "last events"] + table(["AT", "EVENT", "INSTANCE", "CAUSE"], rows)
    }

    static func guardSection(_ guardStatus: StatusReport.Guard?) -> [String] {
        guard let guardStatus else { return ["", "guard      off (--no-guard)"] }
        var lines = [
            "",
            "guard      \(guardStatus.strikesTotal) strikes  \(guardStatus.bansActive) bans in force "
                + "(\(guardStatus.bansTotal) since start)  \(guardStatus.refusedTotal) refused  "
                + "\(guardStatus.throttledTotal) throttled",
        ]
        if !guardStatus.bans.isEmpty {
            let rows = guardStatus.bans.prefix(eventLimit).map { ban in
                [ban.client, ban.until.map(time) ?? "forever", "#\(ban.count)", ban.reason]
            }
            lines += ["  bans"] + table(["CLIENT", "UNTIL", "BAN", "REASON"], rows).map { "  " + $0 }
        }
        if !guardStatus.topOffenders.isEmpty {
            let rows = guardStatus.topOffenders.prefix(eventLimit).map { offender in
                [offender.client, String(offender.strikes), offender.banned ? "banned" : ""]
            }
            lines += ["  top offenders"] + table(["CLIENT", "STRIKES", ""], rows).map { "  " + $0 }
        }
        return lines
    }

    static func routes(_ routes: [StatusReport.Route]) -> [String] {
        guard !routes.isEmpty else { return [] }
        let busiest = routes.sorted { ($1.requests ?? 0, $0.index) < ($0.requests ?? 0, $1.index) }.prefix(routeLimit)
        let rows = busiest.map { route in
            [
                route.requests.map(String.init) ?? "-", route.latencyMs.map { millis($0.p50) } ?? "-",
                route.latencyMs.map { millis($0.p99) } ?? "-", route.rule,
                route.methods?.joined(separator: ",") ?? "", route.endpoint,
            ]
        }
        return ["", "busiest routes (of \(routes.count))"]
            + table(["REQUESTS", "P50", "P99", "RULE", "METHODS", "ENDPOINT"], rows)
    }

    /// Left-aligned columns, two spaces apart (the last column unpadded), indented by two.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            let cells = row.enumerated().map { column, cell in
                column < row.count - 1 ? cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) : cell
            }
            return "  " + cells.joined().trimmingCharacters(in: .whitespaces)
        }
    }

    /// `45s`, `3m05s`, `2h03m`, `4d02h`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(max(0, seconds))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return String(format: "%dm%02ds", total / 60, total % 60)
        case ..<86_400: return String(format: "%dh%02dm", total / 3600, total % 3600 / 60)
        default: return String(format: "%dd%02dh", total / 86_400, total % 86_400 / 3600)
        }
    }

    /// `512 B`, `40.0 MiB`.
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func millis(_ value: Double) -> String { String(format: "%.1f ms", value) }

    static func time(_ date: Date) -> String { date.formatted(.iso8601) }
}
