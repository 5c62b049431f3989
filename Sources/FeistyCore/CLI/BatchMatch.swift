import Foundation

/// `feisty match --batch`: one JSON request per input line, one verdict per output line, same order.
public struct BatchMatch {
    /// One input line.
    struct Request: Decodable {
        var id: JSONValue?
        var method: String
        var path: String
        var host: String?
        /// Whether the request is a WebSocket handshake.
        var websocket: Bool?
    }

    let matcher: RouteMatcher
    let defaultHost: String
    /// `--websocket`: the kind of the lines that do not say.
    let defaultWebSocket: Bool
    let json: Bool

    /// Creates a batch run.
    /// - Parameters:
    ///   - matcher: The app's router.
    ///   - defaultHost: The `Host` of lines without `"host"`.
    ///   - defaultWebSocket: Whether lines without `"websocket"` are WebSocket handshakes.
    ///   - json: JSON verdicts instead of readable lines.
    public init(matcher: RouteMatcher, defaultHost: String, defaultWebSocket: Bool = false, json: Bool) {
        self.matcher = matcher
        self.defaultHost = defaultHost
        self.defaultWebSocket = defaultWebSocket
        self.json = json
    }

    /// The output line for one input line. A malformed line gets an `"outcome": "error"` line, so output lines
    /// stay aligned with input lines.
    public func answer(line: String) -> String {
        let request: Request
        do {
            request = try JSONDecoder().decode(Request.self, from: Data(line.utf8))
        } catch {
            return JSONText.object([
                ("id", .null), ("outcome", .string("error")),
                (
                    "error",
                    .string("not a request object: {\"id\", \"method\", \"path\", \"host\", \"websocket\"}")
                ),
            ])
        }
        let verdict = matcher.match(
            method: request.method,
            target: request.path,
            host: request.host ?? defaultHost,
            websocket: request.websocket ?? defaultWebSocket
        )
        return json ? VerdictReport.json(verdict, id: request.id ?? .null) : VerdictReport.text(verdict)
    }

    /// Reads stdin to its end, writing one answer per non-empty line.
    public func run() {
        var output = ""
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            output += answer(line: line)
            output += "\n"
            if output.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
