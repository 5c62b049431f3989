import NIOCore
import NIOHTTP1

/// The life of one client connection through the proxy, as a value: every event the handlers observe goes in, and
/// that event's own action enum comes out (only the cases the event can produce), so the handlers' switches are
/// exhaustive and no decision stays in a handler. Timeouts are deadlines kept here and checked by a per-connection
/// tick, so a request costs no timer allocation. Each exchange ends in exactly one ``ExchangeRecord``
/// (``takeFinishedRecord()``).
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
        /// How long a request waits for a ready instance (`--queue-timeout`, then 503).
        var queue: TimeAmount = .seconds(30)
        /// How long a request sent again avoids the instance that failed it, when no other instance is ready.
        var avoidance: TimeAmount = .seconds(1)
        /// The longest wait between two reads of a request body (`--body-timeout`, then 408).
        var body: TimeAmount = .seconds(30)
        /// Bytes per second a request body must average over each `bodyRateWindow` (`--min-body-rate`; 0: off).
        var minBodyRate: Int64 = 0
        var bodyRateWindow: TimeAmount = .seconds(10)
        /// How long a client may read nothing of what feisty has pending for it (`--send-timeout`, then close).
        var send: TimeAmount = .seconds(60)
    }

    /// What the handler saw of the connection's flow, for the periodic check: a stall feisty itself caused
    /// (backpressure) is nobody's fault and stops no clock.
    struct Flow: Equatable {
        /// Reading the client is paused by feisty (the app or the client's own answer is not keeping up).
        var clientReadPaused = false
        /// Reading the app is paused by feisty (the client is not keeping up with the answer).
        var appReadPaused = false
        /// Since when the client has read nothing of what feisty has pending for it; `nil`: nothing pending.
        var sendStalledSince: NIODeadline?
    }

    enum ResponsePhase: Equatable {
        case awaitingHead
        case streaming
        case ended
    }

    /// Where the request stands with respect to an app instance.
    enum UpstreamPhase: Equatable {
        /// The request body is being received whole (`--request-buffer`) before an instance is chosen, so a slow
        /// client never holds an app worker.
        case buffering
        /// Not sent yet: an instance is being chosen, or none is ready and the request waits in the queue.
        case awaitingInstance
        /// A connection to the chosen instance is being set up.
        case connecting
        /// The request goes out on an open connection.
        case connected
    }

    /// A request forwarded to the app.
    struct Exchange: Equatable {
        var requestEnded: Bool
        var response: ResponsePhase = .awaitingHead
        var upstream: UpstreamPhase
        var keepAlive: Bool
        var upstreamReusable = true
        /// Idempotent and body-less: it may be sent once more while no response byte reached the client.
        var resendable: Bool
        /// The app's response head went out to the client. The handler holds it back until the first body part or
        /// the end (or a short delay), so an instance that dies between writing its head and its body still leaves
        /// the request resendable.
        var headRelayed = false
        /// The request went out on a kept (reused) app connection.
        var onKeptConnection = false
        /// Armed once the request is complete, pushed on by every read from the app.
        var upstreamDeadline: NIODeadline?
        /// Armed when the app answered before the request body ended (we then discard the rest and close).
        var lingerDeadline: NIODeadline?
        /// Set when the app's listen queue was first found full for this request: retries stop at this deadline.
        var busyDeadline: NIODeadline?
        /// Connect attempts refused by a full listen queue so far (the retry delay doubles with each).
        var busyAttempts = 0
        /// Set when the request first found no ready instance: it waits until then (503 after).
        var queueDeadline: NIODeadline?
        /// The instance that failed this request, avoided by the next dispatch until `avoidUntil`.
        var avoided: Int?
        var avoidUntil: NIODeadline?
        /// Dispatches after a refused connection (the instance's socket is gone): bounded.
        var redispatches = 0
        /// Armed while the request body is incomplete, pushed on by every body read (`--body-timeout`).
        var bodyDeadline: NIODeadline?
        /// The current window of the body-rate check and the body bytes read in it (`--min-body-rate`).
        var rateWindowStart: NIODeadline?
        var rateWindowBytes: Int64 = 0
        /// A WebSocket handshake forwarded with its `Upgrade`: the app's `101` turns the connection into a tunnel.
        var offersUpgrade = false
    }

    /// A request feisty answered itself; the rest of its body is discarded.
    struct Refused: Equatable {
        var requestEnded: Bool
        var closeAfter: Bool
        var lingerDeadline: NIODeadline
        var discarded: Int64 = 0
        /// A body still being discarded must keep coming (`--body-timeout`), or the connection closes.
        var bodyDeadline: NIODeadline
    }

    enum State: Equatable {
        /// Between requests (keep-alive), before the first byte of the next one.
        case idle(deadline: NIODeadline)
        /// Bytes of a request head arrived; it must complete before `deadline`.
        case readingHead(deadline: NIODeadline)
        case exchanging(Exchange)
        case refused(Refused)
        /// The app accepted a WebSocket handshake: the connection is a byte tunnel now, no longer HTTP.
        case tunneling
        case closed
    }

    /// Answer with `refusal` through the HTTP codec; drop the app connection when `closeUpstream`; close the client
    /// connection right after the answer when `closeNow` (otherwise the state machine says later).
    struct Refusing: Equatable {
        var refusal: ProxyRefusal
        var closeUpstream: Bool
        var closeNow: Bool
    }

    /// What a judged request head leads to.
    enum HeadAction: Equatable {
        /// Send the (rewritten) head on the kept app connection; `100 Continue` to the client first when asked.
        case sendOnKeptConnection(sendContinue: Bool)
        /// Choose an instance and connect to it (``instanceChosen(_:now:)`` or ``noInstanceReady(now:)`` follow).
        case dispatch
        /// Keep the (rewritten) head and receive the body whole first (a body part or the end says `.dispatch`);
        /// `100 Continue` to the client now when asked.
        case buffer(sendContinue: Bool)
        case refuse(Refusing)
        /// A head while another exchange is in progress: cannot happen with the handler holding pipelined requests.
        case close
    }

    /// What finding no ready instance leads to.
    enum NoInstanceAction: Equatable {
        /// Wait for the next publication of instances (or the tick).
        case wait
        /// The queue timeout passed: 503.
        case refuse(Refusing)
    }

    /// What an open app connection leads to.
    enum ConnectedAction: Equatable {
        /// Flush the parts buffered while connecting; send `100 Continue` first when asked.
        case sendPending(sendContinue: Bool)
        /// The exchange is over already: close the new connection.
        case drop
    }

    /// What a failed connect leads to.
    enum ConnectFailedAction: Equatable {
        case none
        /// The instance's listen queue was full: connect to it again after `after`, keeping the request parts.
        case retryConnect(after: TimeAmount)
        /// The instance refused the connection (it is gone): choose another one, avoiding `avoiding`.
        case dispatch(avoiding: Int?)
        case refuse(Refusing)
    }

    /// What a request body part or the request's end leads to.
    enum RequestPartAction: Equatable {
        /// Pass it to the app (or buffer it while connecting).
        case forward
        /// Drop it (the request was answered already).
        case discard
        case refuse(Refusing)
        case close
        /// A refused request's body ended and the connection stays open: take the next request.
        case refusalComplete
        /// The buffered body is complete (or outgrew `--request-buffer`): keep this part with the rest and send
        /// the request to an instance now.
        case dispatch
    }

    /// What the app's response head leads to.
    enum ResponseHeadAction: Equatable {
        /// Pass it on; `close` is whether the client connection ends after this response.
        case forward(close: Bool)
        /// The app accepted the WebSocket handshake: relay the `101` and turn both connections into a tunnel
        /// (``takeTunnelRecord()`` hands over the exchange's record, finished when the tunnel closes).
        case upgrade
        /// The app answered in a way it must not (a `101` nobody asked for).
        case refuse(Refusing)
        case ignore
    }

    /// What a part of the app's response body leads to.
    enum ResponseBodyAction: Equatable {
        case forward
        case ignore
    }

    /// What the app's response end leads to.
    enum ResponseEndAction: Equatable {
        /// Pass the end on; then close the client connection / keep or drop the app connection.
        case complete(closeDownstream: Bool, keepUpstream: Bool)
        /// The app answered before the request body ended: pass the end on, drop the app connection, discard the
        /// rest of the body for a while, then close.
        case completeEarly
        case ignore
    }

    /// What the app connection closing leads to.
    enum UpstreamClosedAction: Equatable {
        case none
        /// Send the request again on another instance (once), avoiding `avoiding`.
        case dispatch(avoiding: Int?)
        case refuse(Refusing)
        /// The response was cut: close the client connection too.
        case close
    }

    /// What a parse error on the client connection leads to.
    enum ParseErrorAction: Equatable {
        /// Answer with raw bytes below the codec and close (the parser state is unusable).
        case refuseAtEdgeAndClose(ProxyRefusal)
        /// A response is already going out: just close.
        case close
    }

    /// What the periodic deadline check leads to.
    enum TickAction: Equatable {
        case none
        case close
        /// Close now, dropping what is still pending for the client (it has read nothing for `timeouts.send`).
        case abandon
        case refuseAtEdgeAndClose(ProxyRefusal)
        case refuse(Refusing)
        /// The avoided instance may be used again: dispatch the waiting request.
        case dispatch
    }

    /// What graceful shutdown leads to.
    enum QuiesceAction: Equatable {
        case none
        case close
    }

    private(set) var state: State
    let timeouts: Timeouts
    let maxBodyBytes: Int64?
    /// The record of the exchange in progress, kept beside the state (not in it) so that events mutate it in place
    /// instead of copying its strings in and out of the state enum.
    private var current: ExchangeRecord?
    /// The record of the exchange that ended and was not taken yet.
    private var finishedRecord: ExchangeRecord?
    /// A refused request body larger than this is not drained to keep the connection alive: feisty closes.
    static let drainBudget: Int64 = 64 * 1024
    /// Connections refused by a vanished instance before a request is answered 502.
    static let maximumRedispatches = 3

    /// `--request-buffer`: bodies up to this size are received whole before the app is chosen (0: never).
    let requestBufferBytes: Int64

    init(timeouts: Timeouts, maxBodyBytes: Int64?, requestBufferBytes: Int64 = 0, now: NIODeadline) {
        self.timeouts = timeouts
        self.maxBodyBytes = maxBodyBytes
        self.requestBufferBytes = requestBufferBytes
        self.state = .idle(deadline: now + timeouts.idle)
    }

    // MARK: queries

    /// Whether the client side may be read: not while the request waits for or connects to an instance (its
    /// parts would pile up).
    var mayReadDownstream: Bool {
        if case .exchanging(let exchange) = state {
            return exchange.upstream == .connected || exchange.upstream == .buffering || exchange.requestEnded
        }
        return true
    }

    /// Whether the request in progress has ended (its `.end` arrived).
    var requestEnded: Bool {
        if case .exchanging(let exchange) = state { return exchange.requestEnded }
        return false
    }

    /// Whether request parts can go straight to the app connection.
    var isUpstreamConnected: Bool {
        if case .exchanging(let exchange) = state { return exchange.upstream == .connected }
        return false
    }

    /// Whether the answer feisty is writing must announce `Connection: close`.
    var closesAfterRefusal: Bool {
        switch state {
        case .refused(let refused): refused.closeAfter
        case .closed, .tunneling: true
        default: false
        }
    }

    /// Whether a new request head can be taken now; a pipelined head that arrives earlier is held by the handler
    /// until the exchange in progress ended (responses go out in request order).
    var acceptsRequestHead: Bool {
        switch state {
        case .idle, .readingHead: true
        case .exchanging, .refused, .tunneling, .closed: false
        }
    }

    /// Whether a client byte now starts the header timer (checked per read, so kept trivial).
    var awaitsFirstByte: Bool {
        if case .idle = state { return true }
        return false
    }

    /// The instance a waiting request must avoid now, if any.
    func avoidedInstance(now: NIODeadline) -> Int? {
        guard case .exchanging(let exchange) = state, let avoided = exchange.avoided,
            let until = exchange.avoidUntil, now < until
        else { return nil }
        return avoided
    }

    /// The record of the exchange that just ended, once.
    mutating func takeFinishedRecord() -> ExchangeRecord? {
        defer { finishedRecord = nil }
        return finishedRecord
    }

    /// The record of the WebSocket handshake that became a tunnel (``ResponseHeadAction/upgrade``), once: the
    /// tunnel finishes it when it closes.
    mutating func takeTunnelRecord() -> ExchangeRecord? {
        guard case .tunneling = state else { return nil }
        defer { current = nil }
        return current
    }

    // MARK: client events

    /// Graceful shutdown started: an idle connection closes now, a busy one after its response (announced with
    /// `Connection: close` when the response head has not gone out yet).
    mutating func quiesce() -> QuiesceAction {
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
        case .tunneling, .closed:
            return .none
        }
    }

    /// Raw bytes of a new request arrived.
    mutating func bytesArrived(now: NIODeadline) {
        if case .idle = state { state = .readingHead(deadline: now + timeouts.header) }
    }

    /// A request head was parsed and judged.
    /// - Parameters:
    ///   - record: The new exchange's record (client, method, target, verdict, arrival).
    ///   - decision: The admission decision.
    ///   - keepAlive: The client asked to keep the connection.
    ///   - expectsContinue: `Expect: 100-continue`.
    ///   - keptInstance: The instance of an open, idle app connection that may be reused (still published).
    ///   - idempotent: The method is idempotent (RFC 9110 §9.2.2), so sending the request twice is harmless.
    ///   - upgrade: A WebSocket handshake forwarded with its `Upgrade` (the app may answer `101`).
    mutating func requestHead(
        _ record: ExchangeRecord,
        decision: RequestAdmission.Decision,
        keepAlive: Bool,
        expectsContinue: Bool,
        keptInstance: Int?,
        idempotent: Bool = false,
        upgrade: Bool = false,
        now: NIODeadline
    ) -> HeadAction {
        switch state {
        case .idle, .readingHead: break
        case .exchanging, .refused, .tunneling, .closed: return .close
        }
        switch decision {
        case .forward(let framing):
            current = record
            var exchange = Exchange(
                requestEnded: false,
                upstream: keptInstance == nil ? .awaitingInstance : .connected,
                keepAlive: keepAlive,
                resendable: idempotent && framing == .none
            )
            exchange.offersUpgrade = upgrade
            if framing != .none {
                exchange.bodyDeadline = now + timeouts.body
                exchange.rateWindowStart = now
                if buffersWhole(framing) {
                    // A kept app connection is not used: the body may take long to arrive, the app's keep-alive
                    // timeout is shorter.
                    exchange.upstream = .buffering
                    state = .exchanging(exchange)
                    return .buffer(sendContinue: expectsContinue)
                }
            }
            if let keptInstance {
                exchange.onKeptConnection = true
                current?.instance = keptInstance
                current?.forwardedAt = now
                state = .exchanging(exchange)
                return .sendOnKeptConnection(sendContinue: expectsContinue)
            }
            state = .exchanging(exchange)
            return .dispatch
        case .refuse(let refusal, let framing):
            // A body the client has not sent (100-continue) or that is large is not drained: feisty closes.
            // Even a body-less request's `.end` still arrives from the codec, so the refusal state waits for it.
            var closeAfter = !keepAlive || refusal.closesConnection
            switch framing {
            case .none: break
            case .length(let length): if length > Self.drainBudget || expectsContinue { closeAfter = true }
            case .chunked: if expectsContinue { closeAfter = true }
            }
            finish(record, refusal: refusal, now: now)
            state = refused(closeAfter: closeAfter, now: now)
            return .refuse(Refusing(refusal: refusal, closeUpstream: false, closeNow: false))
        }
    }

    /// The handler chose `instance` for the request and is connecting to it.
    mutating func instanceChosen(_ instance: Int, now: NIODeadline) {
        guard case .exchanging(var exchange) = state, exchange.upstream == .awaitingInstance else { return }
        exchange.upstream = .connecting
        exchange.onKeptConnection = false
        current?.instance = instance
        current?.forwardedAt = now
        exchange.busyDeadline = nil
        exchange.busyAttempts = 0
        state = .exchanging(exchange)
    }

    /// No instance is ready (the app is starting, restarting, or its only instance must be avoided): the request
    /// waits in the queue until `timeouts.queue` has passed since it first found none, then gets 503.
    /// - Parameter queueFull: The event loop's queue holds its limit of waiting requests already (503 at once).
    mutating func noInstanceReady(queueFull: Bool = false, now: NIODeadline) -> NoInstanceAction {
        guard case .exchanging(var exchange) = state, exchange.upstream == .awaitingInstance else { return .wait }
        let deadline = exchange.queueDeadline ?? now + timeouts.queue
        if now >= deadline || (queueFull && exchange.queueDeadline == nil) {
            return .refuse(refuseMidExchange(.appUnavailable, exchange: exchange, now: now))
        }
        exchange.queueDeadline = deadline
        state = .exchanging(exchange)
        return .wait
    }

    /// A request body part of `count` bytes arrived.
    mutating func requestBody(count: Int, now: NIODeadline) -> RequestPartAction {
        switch state {
        case .exchanging(var exchange):
            if exchange.response == .ended { return .discard }  // answered early: lingering
            current?.requestBytes += Int64(count)
            let received = current?.requestBytes ?? 0
            if let maxBodyBytes, received > maxBodyBytes {
                if exchange.response == .awaitingHead {
                    return .refuse(refuseMidExchange(.bodyTooLarge, exchange: exchange, now: now))
                }
                finishCurrent(now: now)
                state = .closed
                return .close
            }
            exchange.bodyDeadline = now + timeouts.body
            exchange.rateWindowBytes += Int64(count)
            if exchange.upstream == .buffering && received > requestBufferBytes {
                // A chunked body outgrew the buffer: it streams from here on, like a large declared one.
                exchange.upstream = .awaitingInstance
                state = .exchanging(exchange)
                return .dispatch
            }
            state = .exchanging(exchange)
            return .forward
        case .refused(var refused):
            refused.discarded += Int64(count)
            refused.bodyDeadline = now + timeouts.body
            if !refused.closeAfter && refused.discarded > Self.drainBudget { refused.closeAfter = true }
            state = .refused(refused)
            return .discard
        case .idle, .readingHead, .tunneling, .closed:
            return .discard
        }
    }

    /// The request ended.
    mutating func requestEnd(now: NIODeadline) -> RequestPartAction {
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
            exchange.bodyDeadline = nil
            if exchange.upstream == .buffering {
                exchange.upstream = .awaitingInstance
                state = .exchanging(exchange)
                return .dispatch
            }
            state = .exchanging(exchange)
            return .forward
        case .refused(var refused):
            refused.requestEnded = true
            if refused.closeAfter {
                state = .closed
                return .close
            }
            state = .idle(deadline: now + timeouts.idle)
            return .refusalComplete
        case .idle, .readingHead, .tunneling, .closed:
            return .discard
        }
    }

    /// The client connection hit a parse error (malformed request or oversized head).
    /// - Parameter unparsed: The record to finish when no exchange is in progress (the head never parsed).
    mutating func parseError(_ refusal: ProxyRefusal, unparsed: ExchangeRecord, now: NIODeadline) -> ParseErrorAction {
        if case .exchanging(let exchange) = state {
            if exchange.response != .awaitingHead {
                // A response went out already: its record too, unless the response ended (early) before.
                if exchange.response == .streaming { finishCurrent(now: now) }
                state = .closed
                return .close
            }
            finishCurrent(refusal: refusal, now: now)
        } else {
            finish(unparsed, refusal: refusal, now: now)
        }
        state = .closed
        return .refuseAtEdgeAndClose(refusal)
    }

    /// A connection closed before its request head could be parsed (the head timed out) ends in this record.
    mutating func finishUnparsed(_ record: ExchangeRecord, refusal: ProxyRefusal, now: NIODeadline) {
        finish(record, refusal: refusal, now: now)
    }

    /// The client connection is gone: an exchange in progress ends here.
    mutating func downstreamClosed(now: NIODeadline) {
        if case .exchanging(let exchange) = state, exchange.response != .ended { finishCurrent(now: now) }
        state = .closed
    }

    // MARK: app connection events

    /// The connection to the app is up.
    mutating func upstreamConnected(expectsContinue: Bool, now: NIODeadline) -> ConnectedAction {
        guard case .exchanging(var exchange) = state, exchange.upstream == .connecting else { return .drop }
        exchange.upstream = .connected
        // The app's silence is counted from now, not from a request end that waited in the queue.
        if exchange.requestEnded { exchange.upstreamDeadline = now + timeouts.upstream }
        state = .exchanging(exchange)
        return .sendPending(sendContinue: expectsContinue && !exchange.requestEnded)
    }

    /// Connecting to the app failed.
    /// - Parameter busy: The instance's listen queue was full. A Unix socket says so at once (`EAGAIN`) where TCP
    ///   would queue the connection and retransmit; retrying a few milliseconds later keeps a burst of clients
    ///   larger than the app's backlog from turning into 502s. Gives up (502) after `timeouts.connect`. Any other
    ///   failure means the instance is gone (its process died, its socket went with it): nothing was sent, so any
    ///   request may go to another instance.
    mutating func upstreamConnectFailed(busy: Bool, now: NIODeadline) -> ConnectFailedAction {
        guard case .exchanging(var exchange) = state, exchange.upstream == .connecting else { return .none }
        if busy {
            let deadline = exchange.busyDeadline ?? now + timeouts.connect
            if now >= deadline {
                return .refuse(refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now))
            }
            exchange.busyDeadline = deadline
            let delay = Self.busyRetryDelay(attempt: exchange.busyAttempts)
            exchange.busyAttempts += 1
            state = .exchanging(exchange)
            return .retryConnect(after: delay)
        }
        guard exchange.redispatches < Self.maximumRedispatches else {
            return .refuse(refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now))
        }
        exchange.redispatches += 1
        let avoided = current?.instance
        avoid(avoided, in: &exchange, now: now)
        state = .exchanging(exchange)
        return .dispatch(avoiding: avoided)
    }

    /// 1 ms, doubling up to 64 ms: a full queue usually drains within a few milliseconds.
    static func busyRetryDelay(attempt: Int) -> TimeAmount {
        .milliseconds(Int64(1) << Int64(min(attempt, 6)))
    }

    /// The app's response head arrived.
    /// - Parameters:
    ///   - status: Its status code.
    ///   - upstreamKeepAlive: Whether the app keeps its connection open after this response.
    ///   - delimitedByClose: The client can only find the body's end by the connection closing (HTTP/1.0 client,
    ///     no `Content-Length`).
    mutating func responseHead(
        status: UInt,
        upstreamKeepAlive: Bool,
        delimitedByClose: Bool = false,
        now: NIODeadline
    ) -> ResponseHeadAction {
        guard case .exchanging(var exchange) = state, exchange.response == .awaitingHead else { return .ignore }
        if status == 101 {
            guard exchange.offersUpgrade, exchange.requestEnded else {
                return .refuse(refuseMidExchange(.upstreamUnreachable, exchange: exchange, now: now))
            }
            current?.status = status
            current?.respondedAt = now
            state = .tunneling
            return .upgrade
        }
        exchange.response = .streaming
        current?.status = status
        current?.respondedAt = now
        exchange.upstreamReusable = upstreamKeepAlive
        if exchange.upstreamDeadline != nil { exchange.upstreamDeadline = now + timeouts.upstream }
        // An answer before the body ended means feisty stops forwarding the body; announce the close.
        let close = !exchange.keepAlive || !exchange.requestEnded || delimitedByClose
        if close { exchange.keepAlive = false }
        state = .exchanging(exchange)
        return .forward(close: close)
    }

    /// The handler wrote the held response head to the client: from now on the request cannot be sent again.
    mutating func responseHeadRelayed() {
        guard case .exchanging(var exchange) = state, exchange.response != .awaitingHead else { return }
        exchange.headRelayed = true
        state = .exchanging(exchange)
    }

    /// A response body part of `count` bytes arrived (pushes the upstream deadline on).
    mutating func responseBody(count: Int, now: NIODeadline) -> ResponseBodyAction {
        guard case .exchanging(var exchange) = state, exchange.response == .streaming else { return .ignore }
        current?.responseBytes += Int64(count)
        if exchange.upstreamDeadline != nil { exchange.upstreamDeadline = now + timeouts.upstream }
        state = .exchanging(exchange)
        return .forward
    }

    /// The app's response ended.
    mutating func responseEnd(now: NIODeadline) -> ResponseEndAction {
        guard case .exchanging(var exchange) = state, exchange.response == .streaming else { return .ignore }
        exchange.response = .ended
        finishCurrent(now: now)
        if exchange.requestEnded {
            let close = !exchange.keepAlive
            state = close ? .closed : .idle(deadline: now + timeouts.idle)
            return .complete(closeDownstream: close, keepUpstream: exchange.upstreamReusable)
        }
        // Early response: relay it, stop forwarding the body, discard the rest for a while, then close.
        exchange.keepAlive = false
        exchange.upstreamDeadline = nil
        exchange.lingerDeadline = now + timeouts.linger
        state = .exchanging(exchange)
        return .completeEarly
    }

    /// The app connection closed (or failed).
    /// - Parameter failure: What the supervisor knows of the instance: a hung instance's requests get 504 and are
    ///   not sent again (they may hang again); otherwise a connection closed before any answer means the instance
    ///   died under the request.
    mutating func upstreamClosed(failure: UpstreamInstance.Failure, now: NIODeadline) -> UpstreamClosedAction {
        guard case .exchanging(var exchange) = state else { return .none }
        switch exchange.response {
        case .streaming where exchange.headRelayed:
            finishCurrent(now: now)
            state = .closed
            return .close
        case .awaitingHead, .streaming:
            guard exchange.upstream == .connected else { return .none }  // the connect failure path answers
            if failure == .hung {
                return .refuse(refuseMidExchange(.appHung, exchange: exchange, now: now))
            }
            // A resendable request has no body: its head is all of it, even when the codec's `.end` is still to come.
            guard exchange.resendable, current?.retried != true else {
                return .refuse(refuseMidExchange(.appCrashed, exchange: exchange, now: now))
            }
            // Nothing reached the client: the half-received answer is forgotten and the request goes again.
            exchange.response = .awaitingHead
            current?.status = 0
            current?.respondedAt = nil
            current?.responseBytes = 0
            current?.retried = true
            exchange.upstreamReusable = true
            exchange.upstreamDeadline = now + timeouts.upstream
            // A kept connection closing as the request arrived is the app's keep-alive timeout: the instance is
            // fine. A fresh connection closing unanswered means the instance died: send elsewhere if possible.
            let avoided = exchange.onKeptConnection && failure == .none ? nil : current?.instance
            avoid(avoided, in: &exchange, now: now)
            state = .exchanging(exchange)
            return .dispatch(avoiding: avoided)
        case .ended:
            return .none
        }
    }

    // MARK: time

    /// The periodic check of the deadlines.
    /// - Parameter flow: What the handler saw: pauses feisty caused itself and whether the client reads.
    mutating func tick(now: NIODeadline, flow: Flow = Flow()) -> TickAction {
        if let stalled = flow.sendStalledSince, now - stalled >= timeouts.send {
            // The client reads nothing of its answer: the answer is abandoned (the app was released already).
            if case .exchanging(let exchange) = state, exchange.response != .ended { finishCurrent(now: now) }
            state = .closed
            return .abandon
        }
        switch state {
        case .idle(let deadline):
            if flow.sendStalledSince != nil {
                // The last answer is still going out (a slow reader): the connection is not idle yet.
                state = .idle(deadline: now + timeouts.idle)
                return .none
            }
            if now >= deadline {
                state = .closed
                return .close
            }
        case .readingHead(let deadline):
            if now >= deadline {
                state = .closed
                return .refuseAtEdgeAndClose(.requestHeadTimeout)
            }
        case .exchanging(var exchange):
            if let linger = exchange.lingerDeadline, now >= linger {
                state = .closed
                return .close
            }
            if exchange.bodyDeadline != nil && exchange.response == .awaitingHead {
                // Not reading while no instance takes the body is feisty's own pause too.
                let paused =
                    flow.clientReadPaused || !(exchange.upstream == .connected || exchange.upstream == .buffering)
                switch checkBody(&exchange, paused: paused, now: now) {
                case .flowing:
                    state = .exchanging(exchange)
                case .stalled:
                    return .refuse(refuseMidExchange(.requestBodyTimeout, exchange: exchange, now: now))
                }
            }
            if flow.appReadPaused, exchange.upstreamDeadline != nil {
                // The app is silent because feisty stopped reading it (the client is slow), not because it hangs.
                exchange.upstreamDeadline = now + timeouts.upstream
                state = .exchanging(exchange)
            }
            if exchange.upstream == .awaitingInstance, let queueDeadline = exchange.queueDeadline {
                if now >= queueDeadline {
                    return .refuse(refuseMidExchange(.appUnavailable, exchange: exchange, now: now))
                }
                if let until = exchange.avoidUntil, now >= until {
                    exchange.avoided = nil
                    exchange.avoidUntil = nil
                    state = .exchanging(exchange)
                    return .dispatch
                }
            }
            if let deadline = exchange.upstreamDeadline, now >= deadline, exchange.upstream == .connected {
                if exchange.response == .awaitingHead || !exchange.headRelayed {
                    return .refuse(refuseMidExchange(.upstreamTimeout, exchange: exchange, now: now))
                }
                finishCurrent(now: now)
                state = .closed
                return .close
            }
        case .refused(var refused):
            guard !refused.requestEnded else { break }
            if refused.closeAfter && now >= refused.lingerDeadline {
                state = .closed
                return .close
            }
            if flow.clientReadPaused {
                refused.bodyDeadline = now + timeouts.body
                state = .refused(refused)
            } else if now >= refused.bodyDeadline {
                state = .closed
                return .close
            }
        case .tunneling, .closed:
            break
        }
        return .none
    }

    private enum BodyProgress { case flowing, stalled }

    /// Whether a request body still being received keeps coming: no gap over `timeouts.body`, and at least
    /// `timeouts.minBodyRate` bytes per second over each `timeouts.bodyRateWindow`. While feisty itself pauses
    /// reading, both clocks restart.
    private func checkBody(_ exchange: inout Exchange, paused: Bool, now: NIODeadline) -> BodyProgress {
        if paused {
            exchange.bodyDeadline = now + timeouts.body
            exchange.rateWindowStart = now
            exchange.rateWindowBytes = 0
            return .flowing
        }
        if let deadline = exchange.bodyDeadline, now >= deadline { return .stalled }
        if timeouts.minBodyRate > 0, let start = exchange.rateWindowStart, now - start >= timeouts.bodyRateWindow {
            let seconds = Double((now - start).nanoseconds) / 1e9
            if Double(exchange.rateWindowBytes) < Double(timeouts.minBodyRate) * seconds { return .stalled }
            exchange.rateWindowStart = now
            exchange.rateWindowBytes = 0
        }
        return .flowing
    }

    /// Whether a body with `framing` is received whole before an instance is chosen (`--request-buffer`).
    private func buffersWhole(_ framing: RequestAdmission.Framing) -> Bool {
        guard requestBufferBytes > 0 else { return false }
        switch framing {
        case .none: return false
        case .length(let length): return length <= requestBufferBytes
        case .chunked: return true
        }
    }

    // MARK: helpers

    private mutating func avoid(_ instance: Int?, in exchange: inout Exchange, now: NIODeadline) {
        exchange.upstream = .awaitingInstance
        exchange.avoided = instance
        exchange.avoidUntil = instance.map { _ in now + timeouts.avoidance }
        exchange.queueDeadline = nil
    }

    /// Ends the exchange in progress's record (once).
    private mutating func finishCurrent(refusal: ProxyRefusal? = nil, now: NIODeadline) {
        guard let record = current else { return }
        current = nil
        finish(record, refusal: refusal, now: now)
    }

    private mutating func finish(_ record: ExchangeRecord, refusal: ProxyRefusal? = nil, now: NIODeadline) {
        var record = record
        record.endedAt = now
        if let refusal {
            record.refusal = refusal
            record.status = refusal.status.code
            record.responseBytes = Int64(refusal.body.utf8.count)
        }
        finishedRecord = record
    }

    /// Feisty answers instead of the app in the middle of an exchange (before any response byte was relayed).
    private mutating func refuseMidExchange(_ refusal: ProxyRefusal, exchange: Exchange, now: NIODeadline) -> Refusing {
        finishCurrent(refusal: refusal, now: now)
        if refusal == .requestBodyTimeout {
            // The rest of the body is not coming: nothing to linger for.
            state = .closed
            return Refusing(refusal: refusal, closeUpstream: true, closeNow: true)
        }
        let closeAfter = !exchange.requestEnded || !exchange.keepAlive || refusal.closesConnection
        if exchange.requestEnded {
            if closeAfter {
                state = .closed
                return Refusing(refusal: refusal, closeUpstream: true, closeNow: true)
            }
            state = .idle(deadline: now + timeouts.idle)
            return Refusing(refusal: refusal, closeUpstream: true, closeNow: false)
        }
        state = refused(closeAfter: true, now: now)
        return Refusing(refusal: refusal, closeUpstream: true, closeNow: false)
    }

    /// The state after feisty answered a request whose body is still to be discarded.
    private func refused(closeAfter: Bool, now: NIODeadline) -> State {
        .refused(
            Refused(
                requestEnded: false,
                closeAfter: closeAfter,
                lingerDeadline: now + timeouts.linger,
                bodyDeadline: now + timeouts.body
            )
        )
    }
}
