import Logging
import NIOCore
import NIOHTTP1

/// Writes one access-log line per exchange:
/// `client method target verdict status bytes upstream_ms instance`, e.g.
/// `127.0.0.1 GET /2024 forward 200 4 1.3ms i1`; `-` where the app was not asked.
final class AccessLogObserver: ExchangeObserver {
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func exchangeEnded(_ record: ExchangeRecord) {
        if LogFormat.current == .json {
            logger.info("access", metadata: Self.fields(record))
        } else {
            logger.info("\(Self.line(record))")
        }
    }

    /// The exchange as structured fields (`--log-format json`): what the text line says, and its durations in
    /// milliseconds (`upstream_ms`: from forwarding to the app's response head; `ttfb_ms`: from the request head to
    /// the response head; `total_ms`: to the exchange's end); fields that do not apply are left out.
    static func fields(_ record: ExchangeRecord) -> Logger.Metadata {
        func milliseconds(_ amount: TimeAmount) -> Double { (Double(amount.nanoseconds) / 10_000).rounded() / 100 }
        var fields: Logger.Metadata = [
            "client": .string(record.client),
            "method": .string(record.method.rawValue),
            "target": .string(record.target),
            "verdict": .string(label(record.verdict)),
            "status": .stringConvertible(Int(record.status)),
            "bytes": .stringConvertible(Int(record.responseBytes)),
            "request_bytes": .stringConvertible(Int(record.requestBytes)),
        ]
        if let refusal = record.refusal { fields["refusal"] = .string(refusal.logLabel) }
        if record.retried { fields["retried"] = .stringConvertible(true) }
        if let instance = record.instance { fields["instance"] = .stringConvertible(instance) }
        if let latency = record.upstreamLatency { fields["upstream_ms"] = .stringConvertible(milliseconds(latency)) }
        if let first = record.timeToFirstByte { fields["ttfb_ms"] = .stringConvertible(milliseconds(first)) }
        if let ended = record.endedAt {
            fields["total_ms"] = .stringConvertible(milliseconds(ended - record.receivedAt))
        }
        return fields
    }

    /// The line for `record` (the verdict column also names feisty's own answer: `forward,upstream_timeout`).
    static func line(_ record: ExchangeRecord) -> String {
        var verdict = label(record.verdict)
        if let refusal = record.refusal {
            switch refusal {
            case .routeNotFound, .methodNotAllowed: break  // the gate verdict says it already
            default: verdict = verdict == "-" ? refusal.logLabel : verdict + "," + refusal.logLabel
            }
        }
        if record.retried { verdict += ",retried" }
        let upstream: String
        if let latency = record.upstreamLatency {
            let tenths = (Double(latency.nanoseconds) / 100_000).rounded()
            upstream = "\(Int(tenths) / 10).\(Int(tenths) % 10)ms"
        } else {
            upstream = "-"
        }
        let instance = record.instance.map { "i\($0)" } ?? "-"
        let method = record.method.rawValue
        return
            "\(record.client) \(method) \(record.target) \(verdict) \(record.status) \(record.responseBytes) \(upstream) \(instance)"
    }

    /// The verdict column for a gate decision (`forward`: a rule matched or Werkzeug would redirect).
    static func label(_ decision: RouteGateDecision?) -> String {
        switch decision {
        case .forward: "forward"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .badHost: "bad_host"
        case nil: "-"
        }
    }
}
