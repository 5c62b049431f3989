import NIOHTTP1

/// The pure decision taken on every request head before anything reaches the app: `CONNECT`, the head's own
/// validity (framing without smuggling, exactly one `Host`), head size, the route gate and the body limit, in
/// that order. (Whether an instance is ready is not a refusal: the request
/// then waits in the queue, see `ProxyConnectionStateMachine.noInstanceReady`.)
public struct RequestAdmission: Sendable {
    /// How the request body is delimited.
    public enum Framing: Sendable, Hashable {
        /// No body.
        case none
        /// `Content-Length: n`.
        case length(Int64)
        /// `Transfer-Encoding: chunked`.
        case chunked
    }

    /// The outcome for one request head.
    public enum Decision: Sendable, Hashable {
        /// Forward to the app.
        case forward(framing: Framing)
        /// Answer with `refusal`; `framing` says what remains to be read of the request.
        case refuse(ProxyRefusal, framing: Framing)

        /// This decision with the guard's `refusal` (a ban's 403, a 429) in place of forwarding or a route refusal;
        /// a refusal of the head itself (malformed, too large) stands, since it closes the connection anyway.
        public func overridden(by refusal: ProxyRefusal) -> Decision {
            switch self {
            case .forward(let framing): return .refuse(refusal, framing: framing)
            case .refuse(.routeNotFound, let framing), .refuse(.methodNotAllowed, let framing):
                return .refuse(refusal, framing: framing)
            case .refuse: return self
            }
        }
    }

    /// `--max-header-bytes`.
    public var maxHeaderBytes: Int
    /// `--max-body` (`nil` = unlimited).
    public var maxBodyBytes: Int64?
    /// `--forward-unknown`.
    public var forwardUnknown: Bool

    /// Creates the policy from the proxy's limits.
    public init(maxHeaderBytes: Int, maxBodyBytes: Int64?, forwardUnknown: Bool) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.forwardUnknown = forwardUnknown
    }

    /// Judges one request head.
    /// - Parameters:
    ///   - head: The parsed head.
    ///   - verdict: The route gate's decision (computed once by the caller).
    ///   - forwardUndeclared: Forward this request even when the gate refuses it (the guard lets a client's first
    ///     undeclared URL reach the app).
    public func decide(head: HTTPRequestHead, verdict: RouteGateDecision, forwardUndeclared: Bool = false) -> Decision {
        // A proxy request for a tunnel: feisty is no forward proxy, and the codec stops parsing after it.
        if head.method == .CONNECT { return .refuse(.connectNotAllowed, framing: .none) }
        let framing: Framing
        switch Self.framing(of: head) {
        case .success(let value): framing = value
        case .failure(let error): return .refuse(error.refusal, framing: .none)
        }
        if Self.headBytes(head) > maxHeaderBytes { return .refuse(.headerTooLarge, framing: framing) }
        // A `Host` Werkzeug cannot bind (`BadHost`) is answered 400 whatever `--forward-unknown` says: the app
        // would answer the same 400 for any path, and the head is malformed rather than undeclared.
        if case .badHost = verdict { return .refuse(Self.badHostRefusal, framing: framing) }
        if !forwardUnknown, !forwardUndeclared {
            switch verdict {
            case .notFound: return .refuse(.routeNotFound, framing: framing)
            case .methodNotAllowed(let allowed): return .refuse(.methodNotAllowed(allowed: allowed), framing: framing)
            case .forward, .badHost: break
            }
        }
        if case .length(let length) = framing, let maxBodyBytes, length > maxBodyBytes {
            return .refuse(.bodyTooLarge, framing: framing)
        }
        return .forward(framing: framing)
    }

    /// The answer to a `Host` that Werkzeug's `Map.bind` cannot IDNA-encode (its `BadHost`).
    public static let badHostRefusal = ProxyRefusal.malformedRequest(reason: "invalid Host (not a valid host name)")

    /// The body framing, or why the head is refused. Both `Content-Length` and `Transfer-Encoding`, several or
    /// non-numeric `Content-Length` values, or `Transfer-Encoding` on HTTP/1.0 are request-smuggling vectors
    /// (RFC 9112 §6.1, §6.3): 400. A transfer coding other than one `chunked` alone (`gzip, chunked`) is a coding
    /// feisty cannot pass on faithfully: 501, as nginx answers. A duplicate `Host`, or none in HTTP/1.1, is 400
    /// (RFC 9112 §3.2). One pass over the fields checks all of it.
    public static func framing(of head: HTTPRequestHead) -> Result<Framing, HeadError> {
        var lengths = 0
        var length: Int64 = 0
        var transferEncodings = 0
        var codings = 0
        var lastCoding: Substring = ""
        var hosts = 0
        for header in head.headers {
            if header.name.utf8.count == 4 {
                if header.name.equalsASCIICaseInsensitive("host") { hosts += 1 }
            } else if header.name.equalsASCIICaseInsensitive("content-length") {
                for value in header.value.split(separator: ",", omittingEmptySubsequences: false) {
                    lengths += 1
                    let trimmed = value.drop(while: { $0 == " " })
                    guard !trimmed.isEmpty, trimmed.utf8.count <= 18, trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                        let parsed = Int64(trimmed)
                    else { return .failure(HeadError("invalid Content-Length")) }
                    length = parsed
                }
            } else if header.name.equalsASCIICaseInsensitive("transfer-encoding") {
                transferEncodings += 1
                for coding in header.value.split(separator: ",") {
                    codings += 1
                    lastCoding = coding.drop(while: { $0 == " " || $0 == "\t" })
                }
            }
        }
        if hosts > 1 { return .failure(HeadError("duplicated Host")) }
        if hosts == 0 && (head.version.major > 1 || head.version.minor >= 1) {
            return .failure(HeadError("missing Host"))
        }
        if lengths > 1 { return .failure(HeadError("duplicated Content-Length")) }
        if transferEncodings > 0 {
            if lengths > 0 { return .failure(HeadError("both Content-Length and Transfer-Encoding")) }
            if head.version.major == 1 && head.version.minor == 0 {
                return .failure(HeadError("Transfer-Encoding on HTTP/1.0"))
            }
            guard lastCoding.equalsASCIICaseInsensitive("chunked") else {
                return .failure(HeadError("Transfer-Encoding without final chunked"))
            }
            guard codings == 1 else { return .failure(HeadError(unsupportedCoding: "chunked alone")) }
            return .success(.chunked)
        }
        if lengths == 1 { return .success(length == 0 ? .none : .length(length)) }
        return .success(.none)
    }

    /// The size of the head as sent: request line plus `name: value\r\n` per field.
    public static func headBytes(_ head: HTTPRequestHead) -> Int {
        var total = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        for header in head.headers { total += header.name.utf8.count + header.value.utf8.count + 4 }
        return total
    }
}

/// Why a request head is refused before it is judged: its framing or its `Host`.
public struct HeadError: Error, Sendable, Hashable {
    /// The answer: 400 with the reason, or 501 for a transfer coding feisty does not implement.
    public let refusal: ProxyRefusal

    /// A malformed head (400).
    init(_ reason: String) { self.refusal = .malformedRequest(reason: reason) }

    /// A transfer coding feisty does not implement (501); `expected` says what it accepts.
    init(unsupportedCoding expected: String) {
        self.refusal = .unsupportedTransferCoding(expected: expected)
    }

}
