/// How an exchange ended, in the words of `/status`'s `by_verdict` and the `verdict` label of
/// `feisty_requests_total`: one name per outcome an operator tells apart, fewer than ``ProxyRefusal``'s cases.
public enum TrafficVerdict: String, Sendable, Hashable, CaseIterable {
    /// The app answered a declared route.
    case forwarded
    /// The app answered a URL Werkzeug redirects (a missing slash) or answers with its WebSocket mismatch, or one
    /// the gate forwarded without a rule because judging it would exceed its work budget (a pathological target).
    case redirect
    /// The app answered an undeclared URL the guard let through (a client's first one in the window).
    case forwardedUndeclared = "forwarded_undeclared"
    /// The route gate answered 404 (no guard involved).
    case notFound = "not_found"
    /// The route gate answered 405.
    case methodNotAllowed = "method_not_allowed"
    /// The guard answered an undeclared URL itself (a repeat, a canary path).
    case refusedUndeclared = "refused_undeclared"
    /// Malformed, ambiguous, oversized or CONNECT: feisty answered 400, 405, 413, 431 or 501.
    case badRequest = "bad_request"
    /// The client was too slow sending its head or body (408).
    case clientTimeout = "client_timeout"
    /// The client is banned (403).
    case banned
    /// The client is over `--rate` (429).
    case throttled
    /// The app's slots were full for `--queue-timeout` (503).
    case appBusy = "app_busy"
    /// No instance was ready within `--queue-timeout` (503).
    case appUnavailable = "app_unavailable"
    /// The app crashed, hung, could not be reached or timed out while answering (502, 504).
    case upstreamFailed = "upstream_failed"

    /// The verdict of a finished exchange: feisty's refusal when it answered itself, else what the gate said.
    /// - Parameter record: The exchange.
    public init(_ record: ExchangeRecord) {
        if let refusal = record.refusal {
            self.init(refusal, guardVerdict: record.guardVerdict)
            return
        }
        switch record.verdict {
        case .forward(let rule)?: self = rule == nil ? .redirect : .forwarded
        case .notFound?, .methodNotAllowed?: self = .forwardedUndeclared
        // A bad host is always refused; without a refusal it can only be a record built by hand.
        case .badHost?: self = .badRequest
        case nil: self = .forwarded
        }
    }

    /// The verdict of an answer feisty gave itself.
    init(_ refusal: ProxyRefusal, guardVerdict: RequestVerdict?) {
        switch refusal {
        case .routeNotFound, .methodNotAllowed:
            if guardVerdict == .refuseUndeclared {
                self = .refusedUndeclared
            } else if case .methodNotAllowed = refusal {
                self = .methodNotAllowed
            } else {
                self = .notFound
            }
        case .malformedRequest, .unsupportedTransferCoding, .connectNotAllowed, .headerTooLarge, .bodyTooLarge:
            self = .badRequest
        case .requestHeadTimeout, .requestBodyTimeout: self = .clientTimeout
        case .banned: self = .banned
        case .throttled: self = .throttled
        case .appBusy: self = .appBusy
        case .appUnavailable: self = .appUnavailable
        case .appCrashed, .appHung, .upstreamUnreachable, .upstreamTimeout: self = .upstreamFailed
        }
    }
}
