/// The proxy's cheap routing answer: whether the app declared the URL, without materializing arguments
/// or redirect URLs. Always agrees with `RouteMatcher.match`.
public enum RouteGateDecision: Sendable, Hashable {
    /// A rule matches, or Werkzeug would redirect (the app sends the redirect itself): pass it on.
    case forward
    /// Werkzeug answers 404.
    case notFound
    /// Werkzeug answers 405; `allowed` is sorted.
    case methodNotAllowed(allowed: [String])
}
