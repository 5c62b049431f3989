/// The proxy's cheap routing answer: whether the app declared the URL, without materializing arguments
/// or redirect URLs. Always agrees with `RouteMatcher.match`.
public enum RouteGateDecision: Sendable, Hashable {
    /// A rule matches (`rule`: its index in the route table), or Werkzeug would redirect (`rule` is `nil`; the app
    /// sends the redirect itself): pass it on.
    case forward(rule: Int?)
    /// Werkzeug answers 404.
    case notFound
    /// Werkzeug answers 405; `allowed` is sorted.
    case methodNotAllowed(allowed: [String])
}

extension RouteGateDecision {
    /// Whether the request goes on to the app.
    public var forwards: Bool {
        if case .forward = self { return true }
        return false
    }
}
