/// `feisty replay`: judges every request of an access log with the app's routes and the ban policy, log times as the
/// clock, and tallies what feisty would have done.
public struct LogReplay {
    /// What replay found for one client.
    public struct ClientTally: Sendable, Hashable {
        /// The client key (an IPv4 address or an IPv6 network).
        public let client: String
        /// Its requests in the log.
        public var requests = 0
        /// Its requests that were a new strike (a canary path counts once here, though it weighs `--max-strikes`).
        public var strikes = 0
        /// The log time of its first ban, as written in the log; `nil` if never banned.
        public var bannedAt: String?
        /// The log lines that earned the first ban, oldest first.
        public var evidence: [String] = []
        /// How many bans it would have earned in all (repeat bans included).
        public var bans = 0
        fileprivate var order = 0
        fileprivate var bannedTime: Duration?
    }

    /// The whole finding.
    public struct Report: Sendable, Hashable {
        /// Every client, those banned first (earliest ban first), then by strikes and requests.
        public let clients: [ClientTally]
        /// The most requested undeclared paths (404 or 405 from the gate), most requested first.
        public let undeclared: [UndeclaredPath]
        /// Lines that are no request of a known format, or whose client is no IP address.
        public let unparsedCount: Int
        /// The first few of them, as written (at most 200 characters each).
        public let unparsedExamples: [String]
    }

    /// An undeclared path and how often the log asked for it.
    public struct UndeclaredPath: Sendable, Hashable {
        /// The path (the target up to `?`).
        public let path: String
        /// Its requests.
        public let count: Int
    }

    /// How many unparsed lines are quoted.
    public static let unparsedExampleLimit = 3
    /// How many undeclared paths the report lists.
    public static let undeclaredLimit = 20

    private let matcher: RouteMatcher
    private let ipv6Prefix: Int
    private var book: StrikeBook
    private var tallies: [ClientKey: ClientTally] = [:]
    private var strikeLines: [ClientKey: [String: String]] = [:]
    private var undeclaredCounts: [String: Int] = [:]
    private var unparsedCount = 0
    private var unparsedExamples: [String] = []

    /// Creates a replay.
    /// - Parameters:
    ///   - matcher: The app's router.
    ///   - book: An empty strike book with the policy's flags (its `dryRun` does not matter: replay refuses nothing,
    ///     and a banned client's requests while the ban holds count as requests, not strikes).
    ///   - ipv6Prefix: `--ipv6-prefix`.
    public init(matcher: RouteMatcher, book: StrikeBook, ipv6Prefix: Int = ClientKey.defaultIPv6Prefix) {
        self.matcher = matcher
        self.book = book
        self.ipv6Prefix = ipv6Prefix
    }

    /// Judges one line of the log (lines must come in time order, as logs are written).
    public mutating func feed(_ line: String) {
        if line.allSatisfy({ $0 == " " || $0 == "\r" || $0 == "\t" }) { return }
        guard let request = AccessLogLine(line), let key = ClientKey(client: request.client, ipv6Prefix: ipv6Prefix)
        else {
            unparsedCount += 1
            if unparsedExamples.count < Self.unparsedExampleLimit { unparsedExamples.append(String(line.prefix(200))) }
            return
        }
        var tally = tallies[key] ?? ClientTally(client: key.description, order: tallies.count)
        tally.requests += 1
        let verdict = matcher.gate(method: request.method, target: request.target)
        let path = String(request.target.prefix { $0 != "?" && $0 != "#" })
        if !verdict.forwards { undeclaredCounts[path, default: 0] += 1 }
        switch book.record(client: key, target: request.target, verdict: verdict, at: request.time) {
        case .none, .refuse:
            break
        case .strike:
            tally.strikes += 1
            strikeLines[key, default: [:]][path] = line
        case .ban(let ban):
            tally.strikes += 1
            tally.bans += 1
            strikeLines[key, default: [:]][path] = line
            if tally.bannedAt == nil {
                tally.bannedAt = request.timeText
                tally.bannedTime = request.time
                let lines = strikeLines[key] ?? [:]
                tally.evidence = ban.evidence.compactMap { lines[$0] }
            }
            strikeLines[key] = nil
        }
        tallies[key] = tally
    }

    /// The finding so far.
    public var report: Report {
        let clients = tallies.values.sorted { a, b in
            switch (a.bannedTime, b.bannedTime) {
            case (.some, .none): return true
            case (.none, .some): return false
            case (.some(let first), .some(let second)) where first != second: return first < second
            default:
                if a.strikes != b.strikes { return a.strikes > b.strikes }
                if a.requests != b.requests { return a.requests > b.requests }
                return a.order < b.order
            }
        }
        let undeclared = undeclaredCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(Self.undeclaredLimit).map { UndeclaredPath(path: $0.key, count: $0.value) }
        return Report(
            clients: clients, undeclared: undeclared, unparsedCount: unparsedCount, unparsedExamples: unparsedExamples
        )
    }
}

extension LogReplay.Report {
    /// `{"clients": [...], "undeclared": [...], "unparsed": {"count", "examples"}}`.
    public var json: String {
        let clientValues: [JSONValue] = clients.map { tally in
            .object([
                "client": .string(tally.client), "requests": .int(tally.requests), "strikes": .int(tally.strikes),
                "banned_at": tally.bannedAt.map(JSONValue.string) ?? .null, "bans": .int(tally.bans),
                "evidence": .array(tally.evidence.map(JSONValue.string)),
            ])
        }
        let undeclaredValues: [JSONValue] = undeclared.map {
            .object(["path": .string($0.path), "count": .int($0.count)])
        }
        let unparsed: JSONValue = .object([
            "count": .int(unparsedCount), "examples": .array(unparsedExamples.map(JSONValue.string)),
        ])
        return JSONText.object([
            ("clients", .array(clientValues)),
            ("undeclared", .array(undeclaredValues)),
            ("unparsed", unparsed),
        ])
    }

    /// A few lines for a person: the summary, the banned clients with their evidence, the top undeclared URLs.
    public var text: String {
        let banned = clients.filter { $0.bannedAt != nil }
        let requests = clients.reduce(0) { $0 + $1.requests }
        var lines = ["\(clients.count) clients, \(requests) requests; \(banned.count) would be banned"]
        if unparsedCount > 0 {
            lines.append("\(unparsedCount) lines not understood, e.g.:")
            lines += unparsedExamples.map { "    \($0)" }
        }
        let width = max(6, clients.map(\.client.count).max() ?? 0)
        if !clients.isEmpty {
            lines.append("")
            lines.append(pad("client", width) + "  requests  strikes  banned at")
            for tally in clients {
                let requests = pad(String(tally.requests), 8)
                let strikes = pad(String(tally.strikes), 7)
                lines.append("\(pad(tally.client, width))  \(requests)  \(strikes)  \(tally.bannedAt ?? "-")")
                lines += tally.evidence.map { "    \($0)" }
            }
        }
        if !undeclared.isEmpty {
            lines.append("")
            lines.append("Most requested undeclared URLs:")
            lines += undeclared.map { "\(pad(String($0.count), 8))  \($0.path)" }
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
