import NIOCore
import NIOHTTP1

/// Every answer feisty gives itself instead of the app: the ONE place where proxy outcomes become HTTP statuses.
public enum ProxyRefusal: Sendable, Hashable {
    /// The route gate found no rule for the path (Werkzeug's 404).
    case routeNotFound
    /// Rules match the path but not the method (Werkzeug's 405); `allowed` goes into `Allow`.
    case methodNotAllowed(allowed: [String])
    /// The request cannot be parsed, or its framing is ambiguous (smuggling); the connection closes.
    case malformedRequest(reason: String)
    /// `Transfer-Encoding` names a coding besides one `chunked` (`gzip, chunked`): feisty cannot pass it on
    /// faithfully (501, as nginx answers); `expected` says what is accepted.
    case unsupportedTransferCoding(expected: String)
    /// `CONNECT`: feisty is no forward proxy (405, and the connection closes).
    case connectNotAllowed
    /// The request head is larger than `--max-header-bytes`.
    case headerTooLarge
    /// The body is (or grows) larger than `--max-body`.
    case bodyTooLarge
    /// The client did not finish its request head within `--header-timeout` (slowloris).
    case requestHeadTimeout
    /// The client paused longer than `--body-timeout` between two reads of its request body, or sent it slower
    /// than `--min-body-rate`.
    case requestBodyTimeout
    /// The client is banned or denied, and `--ban-response 403` asks for an answer (the connection closes).
    case banned
    /// The client exceeded `--rate`: 429, `Retry-After` in whole seconds.
    case throttled(retryAfterSeconds: Int)
    /// The app had `--app-concurrency` requests for longer than `--queue-timeout` (or the queue was full).
    case appBusy
    /// No app instance became ready within `--queue-timeout` (the app is starting, restarting or crash-looping).
    case appUnavailable
    /// The app's process died while answering a request that cannot safely be sent again.
    case appCrashed
    /// The instance stopped answering (`--hang-timeout`, confirmed by a probe) and is being replaced.
    case appHung
    /// The app could not be connected to, or closed the connection before a response head.
    case upstreamUnreachable
    /// The app did not answer within `--upstream-timeout`.
    case upstreamTimeout

    /// The status sent to the client.
    public var status: HTTPResponseStatus {
        switch self {
        case .routeNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .malformedRequest: .badRequest
        case .unsupportedTransferCoding: .notImplemented
        case .connectNotAllowed: .methodNotAllowed
        case .requestBodyTimeout: .requestTimeout
        case .headerTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .requestHeadTimeout: .requestTimeout
        case .banned: .forbidden
        case .throttled: .tooManyRequests
        case .appUnavailable, .appBusy: .serviceUnavailable
        case .appCrashed: .badGateway
        case .appHung: .gatewayTimeout
        case .upstreamUnreachable: .badGateway
        case .upstreamTimeout: .gatewayTimeout
        }
    }

    /// Whether the connection must close after this answer whatever the client asked for: the byte stream can no
    /// longer be trusted (malformed, oversized, timed out) or the client should not keep hammering it.
    public var closesConnection: Bool {
        switch self {
        case .routeNotFound, .methodNotAllowed, .throttled, .appBusy, .appUnavailable, .appCrashed, .appHung, .upstreamUnreachable,
            .upstreamTimeout:
            false
        case .malformedRequest, .unsupportedTransferCoding, .connectNotAllowed, .headerTooLarge, .bodyTooLarge,
            .requestHeadTimeout, .requestBodyTimeout, .banned:
            true
        }
    }

    /// The short label used in the access log's verdict column.
    public var logLabel: String {
        switch self {
        case .routeNotFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .malformedRequest: "malformed"
        case .unsupportedTransferCoding: "unsupported_coding"
        case .connectNotAllowed: "connect"
        case .requestBodyTimeout: "body_timeout"
        case .headerTooLarge: "header_too_large"
        case .bodyTooLarge: "body_too_large"
        case .requestHeadTimeout: "head_timeout"
        case .banned: "banned"
        case .throttled: "throttled"
        case .appBusy: "app_busy"
        case .appUnavailable: "app_unavailable"
        case .appCrashed: "app_crashed"
        case .appHung: "app_hung"
        case .upstreamUnreachable: "upstream_unreachable"
        case .upstreamTimeout: "upstream_timeout"
        }
    }

    /// The plain-text body: the status line's words, so a person with curl sees why.
    public var body: String {
        switch self {
        case .malformedRequest(let reason): "400 Bad Request: \(reason)\n"
        case .unsupportedTransferCoding(let expected):
            "501 Not Implemented: the only transfer coding accepted is \(expected)\n"
        case .connectNotAllowed: "405 Method Not Allowed: CONNECT (this is no forward proxy)\n"
        case .requestBodyTimeout: "408 Request Timeout: the request body stalled\n"
        case .banned: "403 Forbidden: this address is banned\n"
        case .throttled(let seconds): "429 Too Many Requests: slow down; try again in \(seconds) s\n"
        case .appBusy: "503 Service Unavailable: the app is busy; try again shortly\n"
        case .appUnavailable: "503 Service Unavailable: no app instance is ready; try again shortly\n"
        case .appCrashed: "502 Bad Gateway: the app crashed while answering this request\n"
        case .appHung: "504 Gateway Timeout: the app hung while answering this request; feisty is replacing it\n"
        default: "\(status.code) \(status.reasonPhrase)\n"
        }
    }

    /// The response head (without `Connection`, which the caller sets from the connection's fate).
    /// - Parameter version: The request's HTTP version.
    public func responseHead(version: HTTPVersion, close: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        switch self {
        case .methodNotAllowed(let allowed): headers.add(name: "allow", value: allowed.joined(separator: ", "))
        case .connectNotAllowed: headers.add(name: "allow", value: "")  // no method tunnels through feisty
        case .appUnavailable, .appBusy: headers.add(name: "retry-after", value: "1")
        case .throttled(let seconds): headers.add(name: "retry-after", value: String(seconds))
        default: break
        }
        if close {
            headers.add(name: "connection", value: "close")
        } else if version == .http1_0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }

    /// The whole response as bytes, for answers written below the HTTP codec (the connection closes after them).
    public func rawResponse(allocator: ByteBufferAllocator) -> ByteBuffer {
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        for header in responseHead(version: .http1_1, close: true).headers {
            text += "\(header.name): \(header.value)\r\n"
        }
        text += "\r\n\(body)"
        return allocator.buffer(string: text)
    }
}
