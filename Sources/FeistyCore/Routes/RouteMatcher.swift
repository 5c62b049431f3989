/// Werkzeug-compatible router over a `RouteTable`. PLACEHOLDER: replaced by the real matcher.
public struct RouteMatcher: Sendable {
    /// The table this matcher was compiled from.
    public let table: RouteTable

    /// Compiles the table's rules.
    /// - Throws: `RouteError` when a rule cannot be parsed.
    public init(table: RouteTable) throws(RouteError) {
        self.table = table
    }

    /// Judges one request as Werkzeug would.
    /// - Parameters:
    ///   - method: The request method, any case.
    ///   - target: The raw request target (`/a%2Fb?x=1`), as sent on the request line.
    ///   - host: The `Host` header (`localhost`, `api.example.com:8080`).
    /// - Returns: The verdict.
    public func match(method: String, target: String, host: String = "localhost") -> RouteVerdict {
        .notFound
    }
}
