/// One access-log line: who asked what, what the gate said, what was answered, how much and how fast.
///
/// `client method target verdict status bytes upstream_ms` — e.g.
/// `127.0.0.1 GET /2024 forward 200 4 1.3ms`; `-` when the app was not asked.
struct AccessLogEntry {
    var client: String
    var method: String
    var target: String
    var verdict: String
    var status: UInt
    var bytes: Int
    /// Milliseconds from forwarding the head to the app until its response head; `nil` when not forwarded.
    var upstreamMilliseconds: Double?

    var line: String {
        let upstream: String
        if let upstreamMilliseconds {
            let tenths = (upstreamMilliseconds * 10).rounded()
            upstream = "\(Int(tenths) / 10).\(Int(tenths) % 10)ms"
        } else {
            upstream = "-"
        }
        return "\(client) \(method) \(target) \(verdict) \(status) \(bytes) \(upstream)"
    }

    /// The verdict column for a gate decision (`forward`: a rule matched or Werkzeug would redirect).
    static func label(_ decision: RouteGateDecision) -> String {
        switch decision {
        case .forward: "forward"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        }
    }
}
