/// How `feisty match` prints a verdict: the JSON documented in the README, or one readable line. The outcome
/// words follow Werkzeug's exceptions: `not_found` (`NotFound`), `method_not_allowed` (`MethodNotAllowed`),
/// `websocket_mismatch` (`WebsocketMismatch`, status 400), `bad_host` (`BadHost`, status 400).
public enum VerdictReport {
    /// `{"outcome": "match", "status": 200, "endpoint": "getyear", "args": {"year": 2024}}` and its siblings.
    /// - Parameter id: Echoed first when present (batch mode).
    public static func json(_ verdict: RouteVerdict, id: JSONValue? = nil) -> String {
        var members: [(String, JSONValue)] = []
        if let id { members.append(("id", id)) }
        members.append(("outcome", .string(outcome(verdict))))
        members.append(("status", .int(verdict.status)))
        switch verdict {
        case .match(let endpoint, _, let arguments):
            members.append(("endpoint", .string(endpoint)))
            var args = "{"
            for (index, argument) in arguments.enumerated() {
                if index > 0 { args += ", " }
                JSONText.writeString(argument.name, into: &args)
                args += ": "
                JSONText.write(argument.value, into: &args)
            }
            args += "}"
            // Arguments keep the rule's variable order, so they are spliced in rather than sorted.
            return String(JSONText.object(members).dropLast()) + ", \"args\": " + args + "}"
        case .redirect(let location):
            members.append(("location", .string(location)))
        case .notFound, .websocketMismatch, .badHost:
            break
        case .methodNotAllowed(let allowed):
            members.append(("allowed", .array(allowed.map(JSONValue.string))))
        }
        return JSONText.object(members)
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
