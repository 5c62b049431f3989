/// How `feisty match` prints a verdict: the JSON documented in the README, or one readable line. The outcome
/// words follow Werkzeug's exceptions: `not_found` (`NotFound`), `method_not_allowed` (`MethodNotAllowed`),
/// `websocket_mismatch` (`WebsocketMismatch`, status 400), `bad_host` (`BadHost`, status 400).
public enum VerdictReport {
    /// `{"outcome": "match", "status": 200, "endpoint": "getyear", "args": {"year": 2024}}` and its siblings.
    /// - Parameter id: Echoed first when present (batch mode).
    public static func json(_ verdict: RouteVerdict, id: JSONValue? = nil) -> String {
        var out: [UInt8] = []
        writeJSON(verdict, id: id, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `json(verdict, id:)`, appended to `out` as UTF-8.
    static func writeJSON(_ verdict: RouteVerdict, id: JSONValue?, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if let id {
            JSONText.append("\"id\": ", to: &out)
            JSONText.write(id, into: &out)
            JSONText.append(", ", to: &out)
        }
        JSONText.append("\"outcome\": ", to: &out)
        JSONText.writeString(outcome(verdict), into: &out)
        JSONText.append(", \"status\": ", to: &out)
        JSONText.writeInt(verdict.status, into: &out)
        switch verdict {
        case .match(let endpoint, _, let arguments):
            JSONText.append(", \"endpoint\": ", to: &out)
            JSONText.writeString(endpoint, into: &out)
            // Arguments keep the rule's variable order (not sorted like other objects).
            JSONText.append(", \"args\": {", to: &out)
            for (index, argument) in arguments.enumerated() {
                if index > 0 { JSONText.append(", ", to: &out) }
                JSONText.writeString(argument.name, into: &out)
                JSONText.append(": ", to: &out)
                JSONText.write(argument.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .redirect(let location):
            JSONText.append(", \"location\": ", to: &out)
            JSONText.writeString(location, into: &out)
        case .notFound, .websocketMismatch, .badHost:
            break
        case .methodNotAllowed(let allowed):
            JSONText.append(", \"allowed\": [", to: &out)
            for (index, method) in allowed.enumerated() {
                if index > 0 { JSONText.append(", ", to: &out) }
                JSONText.writeString(method, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `{"id": 7, "outcome": "error", "status": 500, "error": "ValueError: ..."}`: matching raised in the app's own
    /// code (a converter's `to_python`), so the app answers 500.
    static func writeAppError(_ message: String, id: JSONValue?, into out: inout [UInt8]) {
        var members: [(String, JSONValue)] = []
        if let id { members.append(("id", id)) }
        members += [("outcome", .string("error")), ("status", .int(500)), ("error", .string(message))]
        JSONText.writeObject(members, into: &out)
    }

    /// `appError` as JSON (single requests).
    public static func appErrorJSON(_ message: String) -> String {
        var out: [UInt8] = []
        writeAppError(message, id: nil, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `500 error ValueError: ...`.
    public static func appErrorText(_ message: String) -> String {
        "500 error " + message
    }

    /// A line for people: `200 match getyear year=2024`.
    public static func text(_ verdict: RouteVerdict) -> String {
        switch verdict {
        case .match(let endpoint, _, let arguments):
            let args = arguments.map { "\($0.name)=\(JSONText.encode($0.value))" }.joined(separator: " ")
            return "200 match \(endpoint)" + (args.isEmpty ? "" : " " + args)
        case .redirect(let location): return "308 redirect \(location)"
        case .notFound: return "404 not found"
        case .methodNotAllowed(let allowed):
            return "405 method not allowed (allowed: \(allowed.joined(separator: ", ")))"
        case .websocketMismatch: return "400 websocket mismatch"
        case .badHost: return "400 bad host"
        }
    }

    /// The `outcome` word of a verdict.
    public static func outcome(_ verdict: RouteVerdict) -> String {
        switch verdict {
        case .match: "match"
        case .redirect: "redirect"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .websocketMismatch: "websocket_mismatch"
        case .badHost: "bad_host"
        }
    }
}
