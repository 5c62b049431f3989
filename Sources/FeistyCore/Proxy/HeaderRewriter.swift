import NIOHTTP1

/// Rewrites heads crossing the proxy: strips hop-by-hop fields both ways (RFC 9110 §7.6.1) and adds the
/// `X-Forwarded-*` fields Werkzeug's `ProxyFix` reads.
///
/// `X-Forwarded-For` is appended to only when the peer is a trusted proxy; otherwise it (and every other
/// client-supplied forwarding field: `Forwarded`, `X-Forwarded-Proto/Host/Port/Prefix`) is replaced or removed, so
/// an app using `ProxyFix(x_for=1, x_proto=1, x_host=1)` behind feisty cannot be fooled by the client. From a
/// trusted peer, incoming `X-Forwarded-Proto`/`-Host` are kept (the front proxy knows the scheme, e.g. TLS).
public struct HeaderRewriter: Sendable {
    /// Creates the rewriter.
    public init() {}

    /// The head sent to the app.
    /// - Parameters:
    ///   - head: The client's head (moved in; rewritten in place).
    ///   - peer: The socket peer's address text.
    ///   - peerTrusted: Whether the peer is a trusted proxy.
    public func upstreamRequest(_ head: HTTPRequestHead, peer: String, peerTrusted: Bool) -> HTTPRequestHead {
        var head = head
        // Assigning the same version would still copy the head's storage (it is shared with the decoder's part).
        if head.version != .http1_1 { head.version = .http1_1 }
        Self.stripHopByHop(&head.headers, alsoExpect: true)
        var forwardedFor: String?
        var proto: String?
        var forwardedHost: String?
        var host: String?
        var spoofable = false
        for header in head.headers {
            switch header.name.utf8.count {
            case 4 where header.name.equalsASCIICaseInsensitive("host"): host = header.value
            case 9 where header.name.equalsASCIICaseInsensitive("forwarded"): spoofable = true
            case 15 where header.name.equalsASCIICaseInsensitive("x-forwarded-for"):
                forwardedFor = forwardedFor.map { "\($0), \(header.value)" } ?? header.value
            case 16 where header.name.equalsASCIICaseInsensitive("x-forwarded-host"): forwardedHost = header.value
            case 16 where header.name.equalsASCIICaseInsensitive("x-forwarded-port"): spoofable = true
            case 17 where header.name.equalsASCIICaseInsensitive("x-forwarded-proto"): proto = header.value
            case 18 where header.name.equalsASCIICaseInsensitive("x-forwarded-prefix"): spoofable = true
            default: break
            }
        }
        if peerTrusted {
            head.headers.replaceOrAdd(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(peer)" } ?? peer)
            if proto == nil { head.headers.add(name: "x-forwarded-proto", value: "http") }
            if forwardedHost == nil, let host { head.headers.add(name: "x-forwarded-host", value: host) }
        } else {
            if spoofable {
                head.headers.remove(name: "forwarded")
                head.headers.remove(name: "x-forwarded-port")
                head.headers.remove(name: "x-forwarded-prefix")
            }
            if forwardedFor != nil {
                head.headers.replaceOrAdd(name: "x-forwarded-for", value: peer)
            } else {
                head.headers.add(name: "x-forwarded-for", value: peer)
            }
            if proto != nil {
                head.headers.replaceOrAdd(name: "x-forwarded-proto", value: "http")
            } else {
                head.headers.add(name: "x-forwarded-proto", value: "http")
            }
            if let host {
                if forwardedHost != nil {
                    head.headers.replaceOrAdd(name: "x-forwarded-host", value: host)
                } else {
                    head.headers.add(name: "x-forwarded-host", value: host)
                }
            } else if forwardedHost != nil {
                head.headers.remove(name: "x-forwarded-host")
            }
        }
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
    /// (and, toward the app, `Expect`: feisty answers `100 Continue` itself). One pass decides whether anything
    /// is to be removed, so the common head costs no removal at all.
    static func stripHopByHop(_ headers: inout HTTPHeaders, alsoExpect: Bool) {
        var found = false
        var connectionTokens: [Substring] = []
        for header in headers {
            let name = header.name
            switch name.utf8.count {
            case 2 where name.equalsASCIICaseInsensitive("te"): found = true
            case 6 where alsoExpect && name.equalsASCIICaseInsensitive("expect"): found = true
            case 7 where name.equalsASCIICaseInsensitive("trailer") || name.equalsASCIICaseInsensitive("upgrade"):
                found = true
            case 10
            where name.equalsASCIICaseInsensitive("connection") || name.equalsASCIICaseInsensitive("keep-alive"):
                found = true
                if name.equalsASCIICaseInsensitive("connection") {
                    for token in header.value.split(separator: ",") {
                        let trimmed = token.drop(while: { $0 == " " || $0 == "\t" })
                        if !trimmed.isEmpty { connectionTokens.append(trimmed) }
                    }
                }
            case 16 where name.equalsASCIICaseInsensitive("proxy-connection"): found = true
            default: break
            }
        }
        guard found else { return }
        for name in ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
            headers.remove(name: name)
        }
        if alsoExpect { headers.remove(name: "expect") }
        for token in connectionTokens {
            let name = String(token).trimmingTrailingSpaces()
            // Framing fields are never hop-by-hop, whatever a Connection header claims (RFC 9110 §7.6.1).
            if name.equalsASCIICaseInsensitive("content-length") || name.equalsASCIICaseInsensitive("transfer-encoding")
                || name.equalsASCIICaseInsensitive("host")
            {
                continue
            }
            headers.remove(name: name)
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " || copy.last == "\t" { copy.removeLast() }
        return copy
    }
}
