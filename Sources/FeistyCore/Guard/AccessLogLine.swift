/// One request read from an access log: nginx/Apache common and combined formats, and the Werkzeug dev server's
/// lines (`127.0.0.1 - - [30/Nov/2026 21:28:00] "GET /ws HTTP/1.1" 200 -`, colours stripped).
///
/// The shape all three share: `CLIENT IDENT USER [TIME] "METHOD TARGET VERSION" STATUS ...`. Times with a zone
/// (`10/Oct/2000:13:55:36 -0700`) are exact; Werkzeug's have none and are read as UTC.
public struct AccessLogLine: Sendable, Hashable {
    /// The client as the log names it (an address, or a host name under Apache's `HostnameLookups`).
    public let client: String
    /// The time as written between the brackets.
    public let timeText: String
    /// The time as a `Duration` since the Unix epoch.
    public let time: Duration
    /// The request method.
    public let method: String
    /// The request target.
    public let target: String
    /// The response status the log recorded.
    public let status: Int?

    /// Parses one line; `nil` when it is not a request line of these formats.
    public init?(_ rawLine: some StringProtocol) {
        let line = Self.strippingEscapes(String(rawLine))
        guard let space = line.firstIndex(of: " ") else { return nil }
        let client = String(line[..<space])
        guard !client.isEmpty,
            let open = line.firstIndex(of: "["),
            let close = line[open...].firstIndex(of: "]")
        else { return nil }
        let timeText = String(line[line.index(after: open)..<close])
        guard let time = Self.parseTime(timeText) else { return nil }
        let afterTime = line[line.index(after: close)...]
        guard let quote = afterTime.firstIndex(of: "\"") else { return nil }
        let requestStart = afterTime.index(after: quote)
        guard let endQuote = Self.closingQuote(in: afterTime[requestStart...]) else { return nil }
        let request = afterTime[requestStart..<endQuote].split(separator: " ", omittingEmptySubsequences: true)
        guard request.count >= 2, request.count <= 3, request[1].first == "/" || request[1].first == "*" else {
            return nil
        }
        let rest = afterTime[afterTime.index(after: endQuote)...].split(separator: " ")
        self.client = client
        self.timeText = timeText
        self.time = time
        self.method = String(request[0])
        self.target = String(request[1])
        self.status = rest.first.flatMap { Int($0) }
    }

    private static func closingQuote(in text: Substring) -> Substring.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "\\" {
                index = text.index(after: index)
                if index == text.endIndex { return nil }
            } else if text[index] == "\"" {
                return index
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// Removes ANSI SGR sequences (`ESC [ ... m`): Werkzeug colours its lines on a terminal.
    static func strippingEscapes(_ line: String) -> String {
        guard line.contains("\u{1B}") else { return line }
        var out = ""
        var iterator = line.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            if scalar == "\u{1B}" {
                while let next = iterator.next(), next != "m" {}
                continue
            }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// `10/Oct/2000:13:55:36 -0700` or `30/Nov/2026 21:28:00` → seconds since the Unix epoch.
    static func parseTime(_ text: String) -> Duration? {
        let parts = text.split(whereSeparator: { $0 == "/" || $0 == ":" || $0 == " " })
        guard parts.count == 6 || parts.count == 7,
            let day = Int(parts[0]), let month = months.firstIndex(of: parts[1].lowercased()),
            let year = Int(parts[2]), let hour = Int(parts[3]), let minute = Int(parts[4]), let second = Int(parts[5]),
            (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        var offset = 0
        if parts.count == 7 {
            let zone = parts[6]
            guard zone.count == 5, let sign = zone.first, sign == "+" || sign == "-",
                let hours = Int(zone.dropFirst().prefix(2)), let minutes = Int(zone.suffix(2))
            else { return nil }
            offset = (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
        }
        let days = daysFromCivil(year: year, month: month + 1, day: day)
        return .seconds(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
