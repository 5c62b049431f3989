/// The proxy's cheap routing answer: whether the app declared the URL, without materializing arguments
/// or redirect URLs. Always agrees with `RouteMatcher.match`.
public enum RouteGateDecision: Sendable, Hashable {
    /// A rule matches (`rule`: its index in the route table), or Werkzeug would redirect or answer
    /// `WebsocketMismatch` (`rule` is `nil`): pass it on. The app sends that redirect or 400 itself, exactly as
    /// it would alone; a WebSocket mismatch is a declared URL asked with the wrong kind of request, never a probe.
    case forward(rule: Int?)
    /// Werkzeug answers 404.
    case notFound
    /// Werkzeug answers 405; `allowed` is sorted.
    case methodNotAllowed(allowed: [String])
    /// Werkzeug answers `BadHost` (400): the `Host` cannot be IDNA-encoded (`a..b`, a leading dot, a label over
    /// 63 characters). A malformed request, not a probe of the app's URLs: the proxy answers 400 itself and the
    /// guard never strikes for it.
    case badHost
}

extension RouteGateDecision {
    /// Whether the request goes on to the app.
    public var forwards: Bool {
        if case .forward = self { return true }
        return false
    }
}
