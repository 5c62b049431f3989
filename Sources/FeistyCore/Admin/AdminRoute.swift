/// What the admin listener does with a request, decided from its method and path alone.
public enum AdminRoute: Sendable, Hashable {
    case health
    case readiness
    case status
    case metrics
    case dashboard
    /// `POST /control/VERB` (access is checked separately).
    case control(ControlVerb)
    case notFound
    /// The path exists, the method does not: `allowed` goes in the `Allow` header.
    case methodNotAllowed(allowed: String)

    /// The control operations.
    public enum ControlVerb: String, Sendable, Hashable, CaseIterable {
        case ban
        case unban
        case recycle
        case reload
    }

    /// Routes `method` on `target` (its query is ignored).
    public init(method: String, target: String) {
        let path = target.prefix { $0 != "?" && $0 != "#" }
        let read: AdminRoute? =
            switch path {
            case "/healthz": .health
            case "/readyz": .readiness
            case "/status": .status
            case "/metrics": .metrics
            case "/", "/index.html": .dashboard
            default: nil
            }
        if let read {
            self = method == "GET" || method == "HEAD" ? read : .methodNotAllowed(allowed: "GET, HEAD")
            return
        }
        if path.hasPrefix("/control/"), let verb = ControlVerb(rawValue: String(path.dropFirst("/control/".count))) {
            self = method == "POST" ? .control(verb) : .methodNotAllowed(allowed: "POST")
            return
        }
        self = .notFound
    }
}
