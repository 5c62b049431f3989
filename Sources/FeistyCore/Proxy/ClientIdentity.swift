/// Who the client of a request is, decided from the socket peer and, when the peer is a trusted proxy, from
/// `X-Forwarded-For` / `Forwarded` (right-most untrusted address: the left part of the chain is client-controlled).
public struct ClientIdentity: Sendable {
    /// The networks whose forwarding headers are believed.
    public let trustedProxies: [IPNetwork]

    /// Creates the policy.
    public init(trustedProxies: [IPNetwork]) {
        self.trustedProxies = trustedProxies
    }

    /// Whether `address` (textual) is inside a trusted network.
    public func isTrusted(_ address: IPAddress?) -> Bool {
        guard let address, !trustedProxies.isEmpty else { return false }
        for network in trustedProxies where network.contains(address) { return true }
        return false
    }

    /// The client address for a request.
    /// - Parameters:
    ///   - peer: The socket peer's address text.
    ///   - peerTrusted: Whether the peer is a trusted proxy (computed once per connection).
    ///   - forwardedFor: The `X-Forwarded-For` values (each may hold a comma-separated list), in header order.
    ///   - forwarded: The RFC 7239 `Forwarded` values, in header order.
    /// - Returns: The peer when it is not trusted; otherwise the right-most address of the chain that is not
    ///   trusted (the left-most when all are trusted). `X-Forwarded-For` wins over `Forwarded` when both exist.
    public func client(peer: String, peerTrusted: Bool, forwardedFor: [String], forwarded: [String]) -> String {
        guard peerTrusted else { return peer }
        var chain: [Substring] = []
        if !forwardedFor.isEmpty {
            for value in forwardedFor { chain.append(contentsOf: value.split(separator: ",")) }
        } else {
            for value in forwarded {
                for element in value.split(separator: ",") {
                    for pair in element.split(separator: ";") {
                        let trimmed = pair.drop(while: { $0 == " " })
                        guard trimmed.count > 4, trimmed.prefix(4).lowercased() == "for=" else { continue }
                        chain.append(Self.stripForwardedNode(trimmed.dropFirst(4)))
                    }
                }
            }
        }
        var leftMost: String?
        for raw in chain.reversed() {
            let candidate = raw.trimmingCharacters()
            guard !candidate.isEmpty else { continue }
            leftMost = candidate
            if !isTrusted(IPAddress(candidate)) { return candidate }
        }
        return leftMost ?? peer
    }

    /// `"[2001:db8::1]:4711"` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`, quotes removed.
    static func stripForwardedNode(_ node: Substring) -> Substring {
        var value = node
        if value.hasPrefix("\"") { value = value.dropFirst() }
        if value.hasSuffix("\"") { value = value.dropLast() }
        if value.hasPrefix("[") {
            if let close = value.firstIndex(of: "]") { return value[value.index(after: value.startIndex)..<close] }
            return value
        }
        if let colon = value.firstIndex(of: ":"), value.lastIndex(of: ":") == colon { return value[..<colon] }
        return value
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(
            self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" })
                .reversed()
        )
    }
}
