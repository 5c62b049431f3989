import NIOHTTP1

/// Rewrites heads crossing the proxy: strips hop-by-hop fields both ways (RFC 9110 §7.6.1) and adds the
/// `X-Forwarded-*` fields Werkzeug's `ProxyFix` reads.
///
/// `X-Forwarded-For` is appended to only when the peer is a trusted proxy; otherwise it (and every other
/// client-supplied forwarding field: `Forwarded`, `X-Forwarded-Proto/Host/Port/Prefix`) is replaced or removed, so
/// an app using `ProxyFix(x_for=1, x_proto=1, x_host=1)` behind feisty cannot be fooled by the client. From a
/// trusted peer, incoming `X-Forwarded-Proto`/`-Host` are kept (the front proxy knows the scheme, e.g. TLS).
///
/// This runs twice per proxied request, so each head is rewritten in two passes over its fields with at most one
/// new field array: a scan that finds what must go, then one copy of what stays (`HTTPHeaders.remove` would rescan
/// and copy the shared array once per removed name).
public struct HeaderRewriter: Sendable {
    /// Creates the rewriter.
    public init() {}

    /// The head sent to the app.
    /// - Parameters:
    ///   - head: The client's head.
    ///   - peer: The socket peer's address text.
    ///   - peerTrusted: Whether the peer is a trusted proxy.
    public func upstreamRequest(_ head: HTTPRequestHead, peer: String, peerTrusted: Bool) -> HTTPRequestHead {
        var head = head
        // Assigning the same version would still copy the head's storage (it is shared with the decoder's part).
        if head.version != .http1_1 { head.version = .http1_1 }
        let nominated = HopByHop.nominated(in: head.headers)
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.count + 3)
        var forwardedFor: String?
        var hasProto = false
        var hasForwardedHost = false
        var host: String?
        for header in head.headers {
            let name = header.name
            if HopByHop.isHopByHop(name, alsoExpect: true) || nominated.names(name) { continue }
            switch ForwardingField(name) {
            case .host:
                host = header.value
            case .forwardedFor:
                forwardedFor = forwardedFor.map { "\($0), \(header.value)" } ?? header.value
                continue  // re-added last, as one field
            case .proto:
                guard peerTrusted else { continue }
                hasProto = true
            case .forwardedHost:
                guard peerTrusted else { continue }
                hasForwardedHost = true
            case .spoofable:
                guard peerTrusted else { continue }
            case .other:
                break
            }
            fields.append((name, header.value))
        }
        if peerTrusted {
            fields.append(("x-forwarded-for", forwardedFor.map { "\($0), \(peer)" } ?? peer))
            if !hasProto { fields.append(("x-forwarded-proto", "http")) }
            if !hasForwardedHost, let host { fields.append(("x-forwarded-host", host)) }
        } else {
            fields.append(("x-forwarded-for", peer))
            fields.append(("x-forwarded-proto", "http"))
            if let host { fields.append(("x-forwarded-host", host)) }
        }
        head.headers = HTTPHeaders(fields)
        return head
    }

    /// The head sent to the client.
    /// - Parameters:
    ///   - head: The app's head.
    ///   - requestVersion: The client's HTTP version (the response speaks it).
    ///   - close: Whether feisty closes the client connection after this response.
    public func downstreamResponse(_ head: HTTPResponseHead, requestVersion: HTTPVersion, close: Bool)
        -> HTTPResponseHead
    {
        var head = head
        if head.version != requestVersion { head.version = requestVersion }
        Self.stripHopByHop(&head.headers, alsoExpect: false)
        if close {
            head.headers.add(name: "connection", value: "close")
        } else if requestVersion.major == 1 && requestVersion.minor == 0 {
            head.headers.add(name: "connection", value: "keep-alive")
        }
        return head
    }

    /// Removes `Connection`, the fields it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Upgrade`
    /// (and, when `alsoExpect`, `Expect`: feisty answers `100 Continue` itself). A head without any of them is left
    /// untouched (no copy).
    static func stripHopByHop(_ headers: inout HTTPHeaders, alsoExpect: Bool) {
        if let stripped = strippingHopByHop(headers, alsoExpect: alsoExpect) { headers = stripped }
    }

    /// The fields of `headers` without the hop-by-hop ones, or `nil` when there is none (the common case: no copy).
    static func strippingHopByHop(_ headers: HTTPHeaders, alsoExpect: Bool) -> HTTPHeaders? {
        var found = false
        for header in headers {
            if HopByHop.isHopByHop(header.name, alsoExpect: alsoExpect) {
                found = true
                break
            }
        }
        guard found else { return nil }
        let nominated = HopByHop.nominated(in: headers)
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.count)
        for header in headers {
            if HopByHop.isHopByHop(header.name, alsoExpect: alsoExpect) || nominated.names(header.name) { continue }
            fields.append((header.name, header.value))
        }
        return HTTPHeaders(fields)
    }
}

/// The fields that concern one connection only (RFC 9110 §7.6.1), compared in place.
enum HopByHop {
    /// Whether `name` is hop-by-hop by definition (`Expect` counts when `alsoExpect`).
    static func isHopByHop(_ name: String, alsoExpect: Bool) -> Bool {
        switch name.utf8.count {
        case 2: return name.equalsASCIICaseInsensitive("te")
        case 6: return alsoExpect && name.equalsASCIICaseInsensitive("expect")
        case 7: return name.equalsASCIICaseInsensitive("trailer") || name.equalsASCIICaseInsensitive("upgrade")
        case 10: return name.equalsASCIICaseInsensitive("connection") || name.equalsASCIICaseInsensitive("keep-alive")
        case 16: return name.equalsASCIICaseInsensitive("proxy-connection")
        default: return false
        }
    }

    /// The extra field names the `Connection` fields nominate as hop-by-hop.
    struct Nominated {
        /// Tokens other than `keep-alive` and `close` (those two, the common case, need no array).
        var tokens: [Substring] = []
        /// `Connection: close` names a field `Close` too.
        var close = false

        /// Whether `name` is nominated. Framing fields and `Host` never are, whatever `Connection` claims.
        func names(_ name: String) -> Bool {
            if close && name.equalsASCIICaseInsensitive("close") { return true }
            guard !tokens.isEmpty else { return false }
            if name.equalsASCIICaseInsensitive("content-length") || name.equalsASCIICaseInsensitive("transfer-encoding")
                || name.equalsASCIICaseInsensitive("host")
            {
                return false
            }
            return tokens.contains { $0.utf8.elementsEqual(name.utf8, by: { asciiLower($0) == asciiLower($1) }) }
        }
    }

    private static func asciiLower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// Reads the tokens of every `Connection` field.
    static func nominated(in headers: HTTPHeaders) -> Nominated {
        var result = Nominated()
        for header in headers where header.name.equalsASCIICaseInsensitive("connection") {
            // Walked in place: browsers send `Connection: keep-alive` on every request, `split` would allocate.
            var rest = Substring(header.value)
            while !rest.isEmpty {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                let trimmed = rest[..<end].trimmingOptionalWhitespace()
                rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
                if trimmed.isEmpty || trimmed.equalsASCIICaseInsensitive("keep-alive") { continue }
                if trimmed.equalsASCIICaseInsensitive("close") {
                    result.close = true
                } else {
                    result.tokens.append(trimmed)
                }
            }
        }
        return result
    }
}

/// The forwarding fields the rewriter replaces or keeps, by name.
private enum ForwardingField {
    case host, forwardedFor, proto, forwardedHost, spoofable, other

    init(_ name: String) {
        switch name.utf8.count {
        case 4 where name.equalsASCIICaseInsensitive("host"): self = .host
        case 9 where name.equalsASCIICaseInsensitive("forwarded"): self = .spoofable
        case 15 where name.equalsASCIICaseInsensitive("x-forwarded-for"): self = .forwardedFor
        case 16 where name.equalsASCIICaseInsensitive("x-forwarded-host"): self = .forwardedHost
        case 16 where name.equalsASCIICaseInsensitive("x-forwarded-port"): self = .spoofable
        case 17 where name.equalsASCIICaseInsensitive("x-forwarded-proto"): self = .proto
        case 18 where name.equalsASCIICaseInsensitive("x-forwarded-prefix"): self = .spoofable
        default: self = .other
        }
    }
}

extension Substring {
    fileprivate func trimmingOptionalWhitespace() -> Substring {
        var trimmed = self.drop(while: { $0 == " " || $0 == "\t" })
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
