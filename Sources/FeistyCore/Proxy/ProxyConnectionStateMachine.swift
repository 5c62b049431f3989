import NIOCore

/// The life of one client connection through the proxy, as a value: every event the handlers observe goes in,
/// an `Action` comes out, and the handlers only execute it. Timeouts are deadlines kept here and checked by a
/// per-connection tick, so a request costs no timer allocation.
///
/// One exchange at a time: the downstream handler holds pipelined requests back until the previous response ended
/// (`acceptsRequestHead`), which is what answers pipelined requests in order.
struct ProxyConnectionStateMachine {
    /// The timing limits (from `ProxyConfiguration`).
    struct Timeouts {
        var header: TimeAmount
        var idle: TimeAmount
        var upstream: TimeAmount
        /// How long a connection that is about to close keeps discarding a request body the app or feisty
        /// answered early, so the client reads the answer instead of a reset.
        var linger: TimeAmount = .seconds(2)
        /// How long connecting to the app may keep failing because its listen queue is full (then 502).
        var connect: TimeAmount = .seconds(5)
    }

    enum ResponsePhase: Equatable {
        case awaitingHead
        case streaming
        case ended
    }

    /// A request forwarded to the app.
    struct Exchange: Equatable {
        var requestEnded: Bool
        var response: ResponsePhase = .awaitingHead
        var upstreamConnected: Bool
        var keepAlive: Bool
        var bodyBytes: Int64 = 0
        var upstreamReusable = true
        /// The request went out on a reused app connection and can be sent again unchanged: a kept-alive connection
        /// the app closes just as the request arrives is retried once on a new connection instead of a 502.
        var replayable = false
        /// Armed once the request is complete, pushed on by every read from the app.
        var upstreamDeadline: NIODeadline?
        /// Armed when the app answered before the request body ended (we then discard the rest and close).
        var lingerDeadline: NIODeadline?
        /// Set when the app's listen queue was first found full for this request: retries stop at this deadline.
        var busyDeadline: NIODeadline?
        /// Connect attempts refused by a full listen queue so far (the retry delay doubles with each).
        var busyAttempts = 0
    }

    /// A request feisty answered itself; the rest of its body is discarded.
    struct Refused: Equatable {
        var requestEnded: Bool
        var closeAfter: Bool
        var lingerDeadline: NIODeadline
        var discarded: Int64 = 0
    }

    enum State: Equatable {
        /// Between requests (keep-alive), before the first byte of the next one.
        case idle(deadline: NIODeadline)
        /// Bytes of a request head arrived; it must complete before `deadline`.
        case readingHead(deadline: NIODeadline)
        case exchanging(Exchange)
        case refused(Refused)
        case closed
    }

    /// What the handlers must do.
    enum Action: Equatable {
        case none
        /// Send the (already rewritten) request head to the app; `connect` when no reusable connection exists.
        case forwardRequestHead(connect: Bool, sendContinue: Bool)
        /// Answer with `refusal` through the HTTP codec; drop the app connection when `closeUpstream`; close the
        /// client connection right after the answer when `closeNow` (otherwise the state machine says later).
        case refuse(ProxyRefusal, closeUpstream: Bool, closeNow: Bool)
        /// Answer with `refusal` as raw bytes below the codec and close (the parser state is unusable).
        case refuseAtEdgeAndClose(ProxyRefusal)
        /// Pass a request body part / the end to the app.
        case forwardRequestBody
        case forwardRequestEnd
        /// Drop a request part (the request was answered already).
        case discard
        /// Flush the parts buffered while connecting; send `100 Continue` first when asked.
        case upstreamReady(sendContinue: Bool)
        /// Pass the app's response head on; `close` is whether the client connection ends after this response.
        case forwardResponseHead(close: Bool)
        case forwardResponseBody
        /// Pass the response end on, then: close the client connection / keep or drop the app connection.
        case forwardResponseEnd(closeDownstream: Bool, keepUpstream: Bool, exchangeComplete: Bool)
        /// Close the app connection (not reusable), keep the client.
        case dropUpstream
        /// The reused app connection closed before answering a replayable request: connect anew and send the
        /// request again (once).
        case retryOnNewConnection
        /// The app's listen queue was full: connect again after `after`, keeping the request parts.
        case retryConnect(after: TimeAmount)
        /// Close the client connection (and the app connection with it).
        case close
        /// A refused request's body ended and the connection stays open.
        case refusalComplete
    }

    private(set) var state: State
    let timeouts: Timeouts
    let maxBodyBytes: Int64?
    /// A refused request body larger than this is not drained to keep the connection alive: feisty closes.
    static let drainBudget: Int64 = 64 * 1024

    init(timeouts: Timeouts, maxBodyBytes: Int64?, now: NIODeadline) {
        self.timeouts = timeouts
        self.maxBodyBytes = maxBodyBytes
        self.state = .idle(deadline: now + timeouts.idle)
    }

    /// Whether the client side may be read: not while connecting to the app (its parts would pile up).
    var mayReadDownstream: Bool {
        if case .exchanging(let exchange) = state { return exchange.upstreamConnected || exchange.requestEnded }
        return true
    }

    /// Whether request parts can go straight to the app connection.
    var isUpstreamConnected: Bool {
        if case .exchanging(let exchange) = state { return exchange.upstreamConnected }
        return false
    }

    /// Whether the answer feisty is writing must announce `Connection: close`.
    var closesAfterRefusal: Bool {
        switch state {
        case .refused(let refused): refused.closeAfter
        case .closed: true
        default: false
        }
    }

    /// Whether a new request head can be taken now; a pipelined head that arrives earlier is held by the handler
    /// until the exchange in progress ended (responses go out in request order).
    var acceptsRequestHead: Bool {
        switch state {
        case .idle, .readingHead: true
        case .exchanging, .refused, .closed: false
        }
    }

    /// Graceful shutdown started: an idle connection closes now, a busy one after its response (announced with
    /// `Connection: close` when the response head has not gone out yet).
    mutating func quiesce() -> Action {
        switch state {
        case .idle, .readingHead:
            state = .closed
            return .close
        case .exchanging(var exchange):
            exchange.keepAlive = false
            state = .exchanging(exchange)
            return .none
        case .refused(var refused):
            refused.closeAfter = true
            state = .refused(refused)
            return .none
        case .closed:
            return .none
        }
    }

    /// Whether a client byte now starts the header timer (checked per read, so kept trivial).
    var awaitsFirstByte: Bool {
        if case .idle = state { return true }
        return false
    }

    /// Raw bytes of a new request arrived.
    mutating func bytesArrived(now: NIODeadline) {
        if case .idle = state { state = .readingHead(deadline: now + timeouts.header) }
    }

    /// A request head was parsed and judged.
    /// - Parameters:
    ///   - decision: The admission decision.
    ///   - keepAlive: The client asked to keep the connection.
    ///   - expectsContinue: `Expect: 100-continue`.
    ///   - upstreamReusable: An open, idle, same-generation app connection exists.
    ///   - idempotent: The method is idempotent (RFC 9110 §9.2.2), so sending the request twice is harmless.
    mutating func requestHead(
        decision: RequestAdmission.Decision,
        keepAlive: Bool,
        expectsContinue: Bool,
        upstreamReusable: Bool,
        idempotent: Bool = false,
        now: NIODeadline
    ) -> Action {
        switch state {
        case .idle, .readingHead: break
        case .exchanging, .refused, .closed: return .close  // cannot happen with pipelining assistance
        }
        switch decision {
        case .forward(let framing):
            var exchange = Exchange(requestEnded: false, upstreamConnected: upstreamReusable, keepAlive: keepAlive)
            // Only a body-less request is kept whole for a replay; a fresh connection that fails is a real failure.
            exchange.replayable = upstreamReusable && idempotent && framing == .none
            state = .exchanging(exchange)
            return .forwardRequestHead(connect: !upstreamReusable, sendContinue: expectsContinue && upstreamReusable)
        case .refuse(let refusal, let framing):
            // A body the client has not sent (100-continue) or that is large is not drained: feisty closes.
            // Even a body-less request's `.end` still arrives from the codec, so the refusal state waits for it.
            var closeAfter = !keepAlive || refusal.closesConnection
            switch framing {
            case .none: break
            case .length(let length): if length > Self.drainBudget || expectsContinue { closeAfter = true }
            case .chunked: if expectsContinue { closeAfter = true }
            }
            state = .refused(
                Refused(requestEnded: false, closeAfter: closeAfter, lingerDeadline: now + timeouts.linger)
            )
            return .refuse(refusal, closeUpstream: false, closeNow: false)
        }
    }

    /// The connection to the app is up.
    mutating func upstreamConnected(expectsContinue: Bool) -> Action {
        guard case .exchanging(var exchange) = state else { return .dropUpstream }
        exchange.upstreamConnected = true
        state = .exchanging(exchange)
        return .upstreamReady(sendContinue: expectsContinue && !exchange.requestEnded)
    }

    /// Connecting to the app failed.
    mutating func upstreamConnectFailed(now: NIODeadline) -> Action {
        guard case .exchanging(let exchange) = state else { return .none }
        return refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now)
    }

    /// Connecting to the app failed at once because its listen queue is full. A Unix socket says so immediately
    /// (`EAGAIN`) where TCP would queue the connection and retransmit; retrying a few milliseconds later keeps a
    /// burst of clients larger than the app's backlog from turning into 502s. Gives up (502) after `timeouts.connect`.
    mutating func upstreamBusy(now: NIODeadline) -> Action {
        guard case .exchanging(var exchange) = state, !exchange.upstreamConnected else { return .none }
        let deadline = exchange.busyDeadline ?? now + timeouts.connect
        if now >= deadline { return refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now) }
        exchange.busyDeadline = deadline
        let delay = Self.busyRetryDelay(attempt: exchange.busyAttempts)
        exchange.busyAttempts += 1
        state = .exchanging(exchange)
        return .retryConnect(after: delay)
    }

    /// 1 ms, doubling up to 64 ms: a full queue usually drains within a few milliseconds.
    static func busyRetryDelay(attempt: Int) -> TimeAmount {
        .milliseconds(Int64(1) << Int64(min(attempt, 6)))
    }

    /// A request body part of `count` bytes arrived.
    mutating func requestBody(count: Int, now: NIODeadline) -> Action {
        switch state {
        case .exchanging(var exchange):
            if exchange.response == .ended { return .discard }  // answered early: lingering
            exchange.bodyBytes += Int64(count)
            if let maxBodyBytes, exchange.bodyBytes > maxBodyBytes {
                if exchange.response == .awaitingHead {
                    return refuseMidExchange(.bodyTooLarge, exchange: exchange, now: now)
                }
                state = .closed
                return .close
            }
            state = .exchanging(exchange)
            return .forwardRequestBody
        case .refused(var refused):
            refused.discarded += Int64(count)
            if !refused.closeAfter && refused.discarded > Self.drainBudget { refused.closeAfter = true }
            state = .refused(refused)
            return .discard
        case .idle, .readingHead, .closed:
            return .discard
        }
    }

    /// The request ended.
    mutating func requestEnd(now: NIODeadline) -> Action {
        switch state {
        case .exchanging(var exchange):
            exchange.requestEnded = true
            if exchange.response == .ended {
                // The app answered before the body ended and the rest was discarded: the close announced in the
                // response head happens now that the client has sent everything.
                state = .closed
                return .close
            }
            exchange.upstreamDeadline = now + timeouts.upstream
            state = .exchanging(exchange)
            return .forwardRequestEnd
        case .refused(var refused):
            refused.requestEnded = true
            if refused.closeAfter {
                state = .closed
                return .close
            }
            state = .idle(deadline: now + timeouts.idle)
            return .refusalComplete
        case .idle, .readingHead, .closed:
            return .none
        }
    }

    /// The app's response head arrived.
    /// - Parameters:
    ///   - upstreamKeepAlive: Whether the app keeps its connection open after this response.
    ///   - delimitedByClose: The client can only find the body's end by the connection closing (HTTP/1.0 client,
    ///     no `Content-Length`).
    mutating func responseHead(upstreamKeepAlive: Bool, delimitedByClose: Bool = false, now: NIODeadline) -> Action {
        guard case .exchanging(var exchange) = state, exchange.response == .awaitingHead else { return .none }
        exchange.response = .streaming
        exchange.upstreamReusable = upstreamKeepAlive
        if exchange.upstreamDeadline != nil { exchange.upstreamDeadline = now + timeouts.upstream }
        // An answer before the body ended means feisty stops forwarding the body; announce the close.
        let close = !exchange.keepAlive || !exchange.requestEnded || delimitedByClose
        if close { exchange.keepAlive = false }
        state = .exchanging(exchange)
        return .forwardResponseHead(close: close)
    }

    /// A response body part arrived (pushes the upstream deadline on).
    mutating func responseBody(now: NIODeadline) -> Action {
        guard case .exchanging(var exchange) = state, exchange.response == .streaming else { return .none }
        if exchange.upstreamDeadline != nil {
            exchange.upstreamDeadline = now + timeouts.upstream
            state = .exchanging(exchange)
        }
        return .forwardResponseBody
    }

    /// The app's response ended.
    mutating func responseEnd(now: NIODeadline) -> Action {
        guard case .exchanging(var exchange) = state, exchange.response == .streaming else { return .none }
        exchange.response = .ended
        if exchange.requestEnded {
            let close = !exchange.keepAlive
            state = close ? .closed : .idle(deadline: now + timeouts.idle)
            return .forwardResponseEnd(
                closeDownstream: close,
                keepUpstream: exchange.upstreamReusable,
                exchangeComplete: true
            )
        }
        // Early response: relay it, stop forwarding the body, discard the rest for a while, then close.
        exchange.keepAlive = false
        exchange.upstreamDeadline = nil
        exchange.lingerDeadline = now + timeouts.linger
        state = .exchanging(exchange)
        return .forwardResponseEnd(closeDownstream: false, keepUpstream: false, exchangeComplete: false)
    }

    /// The app connection closed (or failed).
    mutating func upstreamClosed(now: NIODeadline) -> Action {
        guard case .exchanging(let exchange) = state else { return .none }
        switch exchange.response {
        case .awaitingHead:
            guard exchange.upstreamConnected else { return .none }  // the connect failure path answers
            if exchange.replayable && exchange.requestEnded {
                var retry = exchange
                retry.replayable = false
                retry.upstreamConnected = false
                retry.upstreamReusable = true
                retry.upstreamDeadline = now + timeouts.upstream
                state = .exchanging(retry)
                return .retryOnNewConnection
            }
            return refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now)
        case .streaming:
            state = .closed
            return .close
        case .ended:
            return .none
        }
    }

    /// The client connection hit a parse error (malformed request or oversized head).
    mutating func parseError(_ refusal: ProxyRefusal) -> Action {
        if case .exchanging(let exchange) = state, exchange.response != .awaitingHead {
            state = .closed
            return .close
        }
        state = .closed
        return .refuseAtEdgeAndClose(refusal)
    }

    /// The periodic check of the deadlines.
    mutating func tick(now: NIODeadline) -> Action {
        switch state {
        case .idle(let deadline):
            if now >= deadline {
                state = .closed
                return .close
            }
        case .readingHead(let deadline):
            if now >= deadline {
                state = .closed
                return .refuseAtEdgeAndClose(.requestHeadTimeout)
            }
        case .exchanging(let exchange):
            if let linger = exchange.lingerDeadline, now >= linger {
                state = .closed
                return .close
            }
            if let deadline = exchange.upstreamDeadline, now >= deadline {
                if exchange.response == .awaitingHead {
                    return refuseMidExchange(.upstreamTimeout, exchange: exchange, now: now)
                }
                state = .closed
                return .close
            }
        case .refused(let refused):
            if refused.closeAfter && !refused.requestEnded && now >= refused.lingerDeadline {
                state = .closed
                return .close
            }
        case .closed:
            break
        }
        return .none
    }

    /// The client connection is gone.
    mutating func downstreamClosed() {
        state = .closed
    }

    /// Feisty answers instead of the app in the middle of an exchange (before any response byte was relayed).
    private mutating func refuseMidExchange(_ refusal: ProxyRefusal, exchange: Exchange, now: NIODeadline) -> Action {
        let closeAfter = !exchange.requestEnded || !exchange.keepAlive || refusal.closesConnection
        if exchange.requestEnded {
            if closeAfter {
                state = .closed
                return .refuse(refusal, closeUpstream: true, closeNow: true)
            }
            state = .idle(deadline: now + timeouts.idle)
            return .refuse(refusal, closeUpstream: true, closeNow: false)
        }
        state = .refused(Refused(requestEnded: false, closeAfter: true, lingerDeadline: now + timeouts.linger))
        return .refuse(refusal, closeUpstream: true, closeNow: false)
    }
}
