/// The router's answer for one request: exactly what Werkzeug's `MapAdapter.match` would decide.
public enum RouteVerdict: Sendable, Hashable {
    /// A rule matched; `arguments` are the converted values in the rule's variable order, then defaults.
    case match(endpoint: String, ruleIndex: Int, arguments: [(name: String, value: JSONValue)])
    /// Werkzeug raises `RequestRedirect` (strict slashes, merged slashes, `redirect_to`, aliases).
    case redirect(location: String)
    /// No rule matches the path.
    case notFound
    /// Rules match the path but none accepts the method; `allowed` is sorted.
    case methodNotAllowed(allowed: [String])
    /// Werkzeug raises `WebsocketMismatch` (a 400): rules match path and method, but only ones of the other
    /// kind (`websocket=True` rules for a plain request, plain rules for a WebSocket handshake).
    case websocketMismatch
    /// Werkzeug raises `BadHost` (a 400): `Map.bind` cannot IDNA-encode the host (`a..b`, `.a`, a label over 63
    /// characters), whatever the path.
    case badHost

    /// The HTTP status Werkzeug answers with for this verdict.
    public var status: Int {
        switch self {
        case .match: 200
        case .redirect: 308
        case .notFound: 404
        case .methodNotAllowed: 405
        case .websocketMismatch: 400
        case .badHost: 400
        }
    }

    public static func == (lhs: RouteVerdict, rhs: RouteVerdict) -> Bool {
        switch (lhs, rhs) {
        case (.match(let e1, let i1, let a1), .match(let e2, let i2, let a2)):
            e1 == e2 && i1 == i2 && a1.map(\.name) == a2.map(\.name) && a1.map(\.value) == a2.map(\.value)
        case (.redirect(let l1), .redirect(let l2)): l1 == l2
        case (.notFound, .notFound): true
        case (.methodNotAllowed(let m1), .methodNotAllowed(let m2)): m1 == m2
        case (.websocketMismatch, .websocketMismatch): true
        case (.badHost, .badHost): true
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .match(let endpoint, let index, _): hasher.combine(0); hasher.combine(endpoint); hasher.combine(index)
        case .redirect(let location): hasher.combine(1); hasher.combine(location)
        case .notFound: hasher.combine(2)
        case .methodNotAllowed(let allowed): hasher.combine(3); hasher.combine(allowed)
        case .websocketMismatch: hasher.combine(4)
        case .badHost: hasher.combine(5)
        }
    }
}
