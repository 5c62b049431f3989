import NIOHTTP1

/// What a request head asks of the connection's protocol, read the way the two parties that matter read it:
/// Werkzeug (`Map.bind_to_environ`: a `Connection` token `upgrade` and `Upgrade: websocket` make a WebSocket
/// request, which only `websocket=True` rules match) and the HTTP parser (llhttp stops parsing after any request
/// with both `Upgrade` and a `Connection: upgrade` token, expecting another protocol to follow).
enum UpgradeRequest: Equatable {
    /// A plain request.
    case none
    /// A WebSocket handshake: forwarded with its `Upgrade`; the app's `101` makes the connection a tunnel.
    case websocket(protocol: String)
    /// Another upgrade (`h2c`): ignored as RFC 9110 §7.8 allows; the request is answered over HTTP/1.1 and the
    /// connection goes on serving (the parser, which stopped, is replaced).
    case other

    /// Reads `headers` (one pass; the `Connection` tokens only when an `Upgrade` field is present).
    init(_ headers: HTTPHeaders) {
        var upgrade: String?
        for header in headers where header.name.utf8.count == 7 && header.name.equalsASCIICaseInsensitive("upgrade") {
            upgrade = header.value
            break
        }
        guard let upgrade, Self.connectionNamesUpgrade(headers) else {
            self = .none
            return
        }
        // Werkzeug's own reading decides what is a WebSocket handshake (the route gate matches by it too).
        let handshake = RouteMatcher.isWebSocketHandshake(
            connection: headers["connection"],
            upgrade: headers["upgrade"]
        )
        self = handshake ? .websocket(protocol: upgrade) : .other
    }

    /// Whether this is a WebSocket handshake (the gate's `websocket:` argument).
    var isWebSocket: Bool {
        if case .websocket = self { return true }
        return false
    }

    private static func connectionNamesUpgrade(_ headers: HTTPHeaders) -> Bool {
        for header in headers where header.name.utf8.count == 10 && header.name.equalsASCIICaseInsensitive("connection")
        {
            for token in header.value.split(separator: ",") {
                var trimmed = token.drop(while: { $0 == " " || $0 == "\t" })
                while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
                if trimmed.equalsASCIICaseInsensitive("upgrade") { return true }
            }
        }
        return false
    }

    /// Whether the HTTP parser stopped after this request (any upgrade it did not turn into a tunnel).
    var stopsParser: Bool { self != .none }
}
