/// Who may use the control endpoints: anyone who can open a Unix-socket listener (its file mode is the access
/// control), or, on TCP, a request carrying `Authorization: Bearer TOKEN` with the configured token. Control is never
/// open on TCP without a token.
public struct AdminAccess: Sendable, Hashable {
    /// Whether the listener is a Unix socket.
    public var listenerIsUnixSocket: Bool
    /// `--admin-token` (`nil`: none configured).
    public var token: String?

    /// Creates the rule.
    public init(listenerIsUnixSocket: Bool, token: String?) {
        self.listenerIsUnixSocket = listenerIsUnixSocket
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether a request with this `Authorization` header value may change anything.
    public func allowsControl(authorization: String?) -> Bool {
        if listenerIsUnixSocket { return true }
        guard let token, let authorization else { return false }
        let scheme = "bearer "
        guard authorization.count > scheme.count, authorization.prefix(scheme.count).lowercased() == scheme else {
            return false
        }
        let presented = authorization.dropFirst(scheme.count).drop { $0 == " " }
        return Self.constantTimeEquals(Array(presented.utf8), Array(token.utf8))
    }

    /// Compares without returning early on the first difference, so the time taken does not tell how much of a
    /// guess was right (only the length may leak).
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
