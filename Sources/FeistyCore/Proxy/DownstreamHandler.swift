import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The client side of the proxy, after `configureHTTPServerPipeline`: judges each request head (route gate,
/// limits), opens or reuses the app connection on the same event loop, relays parts both ways and gates reads on
/// the partner's writability. Every decision comes from `ProxyConnectionStateMachine`; this class executes.
final class DownstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let environment: ProxyEnvironment
    private let edge: ConnectionEdgeHandler
    private var machine: ProxyConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var started = false

    /// The app connection: the live one, or the one being connected.
    private var upstream: UpstreamHandler?
    private var upstreamGeneration: UInt64 = 0
    /// Where the app connection goes (kept for a retry when the app's listen queue was full).
    private var upstreamAddress: SocketAddress?
    /// Request parts decoded while the app connection is being set up (at most one read's worth).
    private var pendingParts = CircularBuffer<HTTPClientRequestPart>()
    /// Pipelined request parts that arrived while an exchange was in progress (at most one read's worth).
    private var heldParts = CircularBuffer<HTTPServerRequestPart>()
    private var releasingHeld = false
    private var pendingRead = false
    private var needsFlush = false
    /// Between a socket read and its read-complete; parts delivered outside a burst (pipelined requests released
    /// by the pipelining handler when a response ends) are flushed to the app at once.
    private var inReadBurst = false
    private var tick: RepeatedTask?

    private var peer = "-"
    private var peerTrusted = false
    private var requestVersion = HTTPVersion.http1_1
    private var expectsContinue = false
    private var entry = AccessLogEntry(client: "-", method: "-", target: "-", verdict: "-", status: 0, bytes: 0)
    /// Whether an access-log line is being filled (never when the access log is off).
    private var entryOpen = false
    private var isHeadRequest = false
    /// The request head sent on a reused app connection, kept (a reference, not a copy) for one replay.
    private var replayHead: HTTPRequestHead?
    private var forwardedAt = NIODeadline.uptimeNanoseconds(0)

    init(environment: ProxyEnvironment, edge: ConnectionEdgeHandler) {
        self.environment = environment
        self.edge = edge
        self.machine = ProxyConnectionStateMachine(
            timeouts: environment.timeouts,
            maxBodyBytes: environment.configuration.maxBodyBytes,
            now: .now()
        )
    }

    /// Whether the client connection can take more bytes now.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Raw bytes arrived from the socket: the parts they decode into are flushed to the app on read-complete.
    func rawBytesArrived() {
        inReadBurst = true
        if machine.awaitsFirstByte { machine.bytesArrived(now: .now()) }
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        edge.downstream = self
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        machine = ProxyConnectionStateMachine(
            timeouts: environment.timeouts,
            maxBodyBytes: environment.configuration.maxBodyBytes,
            now: .now()
        )
        if let address = context.channel.remoteAddress?.ipAddress {
            peer = address
            peerTrusted = environment.identity.isTrusted(IPAddress(address))
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        tick = context.eventLoop.scheduleRepeatedTask(
            initialDelay: environment.tickInterval,
            delay: environment.tickInterval
        ) { _ in
            bound.value.tickFired()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.downstreamClosed()
        heldParts.removeAll()
        tick?.cancel()
        tick = nil
        dropUpstream()
        edge.downstream = nil
        if entryOpen { finishEntry() }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tick?.cancel()
        tick = nil
        self.context = nil
    }

    // MARK: client → app

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        // A pipelined request waits until the exchange in progress ended; reads stop while one is held.
        if !heldParts.isEmpty || (!machine.acceptsRequestHead && Self.isHead(part)) {
            heldParts.append(part)
            return
        }
        handle(part, context: context)
    }

    private static func isHead(_ part: HTTPServerRequestPart) -> Bool {
        if case .head = part { return true }
        return false
    }

    /// Passes held pipelined requests on once the exchange before them ended (stops at a head that cannot be
    /// taken yet: that request's response is still going out).
    private func releaseHeldRequests() {
        guard !releasingHeld, !heldParts.isEmpty, let context else { return }
        releasingHeld = true
        let wasInBurst = inReadBurst
        inReadBurst = true  // batch the released parts into one flush to the app
        while let part = heldParts.first {
            if Self.isHead(part) && !machine.acceptsRequestHead { break }
            heldParts.removeFirst()
            handle(part, context: context)
        }
        inReadBurst = wasInBurst
        releasingHeld = false
        if !inReadBurst { upstream?.flushIfNeeded() }
        resumeReadIfAllowed()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            execute(machine.quiesce())
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            receive(head: head, context: context)
        case .body(let buffer):
            let action = machine.requestBody(count: buffer.readableBytes, now: .now())
            if case .forwardRequestBody = action {
                send(.body(.byteBuffer(buffer)))
            } else {
                execute(action)
            }
        case .end(let trailers):
            let action = machine.requestEnd(now: .now())
            if case .forwardRequestEnd = action {
                send(.end(trailers))
            } else {
                execute(action)
            }
        }
    }

    private func receive(head: HTTPRequestHead, context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let snapshot = environment.routing.current
        // The gate runs once per request, on the head's own uri string.
        let verdict = snapshot.matcher.gate(
            method: head.method.rawValue,
            target: head.uri,
            host: head.headers.first(name: "host") ?? "localhost"
        )
        let decision = environment.admission.decide(
            head: head,
            verdict: verdict,
            appAvailable: snapshot.upstream != nil
        )
        requestVersion = head.version
        expectsContinue = head.version.minor >= 1 && Self.expectsContinue(head.headers)
        isHeadRequest = head.method == .HEAD
        if environment.accessLogger != nil {
            // Only a logged request pays for its line's fields (the client chain is parsed per request).
            entry = AccessLogEntry(
                client: peerTrusted
                    ? environment.identity.client(
                        peer: peer,
                        peerTrusted: true,
                        forwardedFor: head.headers["x-forwarded-for"],
                        forwarded: head.headers["forwarded"]
                    ) : peer,
                method: head.method.rawValue,
                target: head.uri,
                verdict: AccessLogEntry.label(verdict),
                status: 0,
                bytes: 0
            )
            entryOpen = true
        }
        let reusable = upstream?.isActive == true && upstreamGeneration == snapshot.generation
        let action = machine.requestHead(
            decision: decision,
            keepAlive: head.isKeepAlive,
            expectsContinue: expectsContinue,
            upstreamReusable: reusable,
            idempotent: Self.isIdempotent(head.method),
            now: now
        )
        guard case .forwardRequestHead(let connect, let sendContinue) = action else {
            execute(action)
            return
        }
        let rewritten = environment.rewriter.upstreamRequest(head, peer: peer, peerTrusted: peerTrusted)
        // Kept for a replay when it goes out on a reused connection; the state machine decides whether one happens.
        replayHead = connect ? nil : rewritten
        forwardedAt = now
        if connect, let address = snapshot.upstream {
            connectAnew(
                to: address,
                generation: snapshot.generation,
                sending: rewritten,
                andEnd: false,
                context: context
            )
        } else {
            send(.head(rewritten))
            if sendContinue { writeContinue() }
        }
    }

    /// Sends a request part to the app, or queues it while the connection is being set up.
    private func send(_ part: HTTPClientRequestPart) {
        if let upstream, pendingParts.isEmpty, machine.isUpstreamConnected {
            upstream.write(part)
        } else {
            pendingParts.append(part)
        }
        if !inReadBurst { upstream?.flushIfNeeded() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        upstream?.flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if heldParts.isEmpty, machine.mayReadDownstream, upstream.map({ $0.isWritable || !$0.isActive }) ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            let refusal: ProxyRefusal =
                parserError == .headerOverflow
                ? .headerTooLarge : .malformedRequest(reason: "unparseable request (\(parserError))")
            if !entryOpen, environment.accessLogger != nil {
                entry = AccessLogEntry(
                    client: peer,
                    method: "-",
                    target: "-",
                    verdict: "-",
                    status: 0,
                    bytes: 0
                )
                entryOpen = true
            }
            execute(machine.parseError(refusal))
        } else {
            // I/O errors (reset by peer): nothing can be answered.
            context.close(promise: nil)
        }
    }

    // MARK: app connection

    private func connect(to address: SocketAddress, generation: UInt64, context: ChannelHandlerContext) {
        let handler = UpstreamHandler(downstream: self)
        upstream = handler
        upstreamGeneration = generation
        upstreamAddress = address
        let bound = NIOLoopBound(handler, eventLoop: context.eventLoop)
        // ClientBootstrap sets TCP_NODELAY itself (and skips it for a Unix socket).
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(environment.configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Request fields were parsed by NIO (CR, LF, NUL rejected) or are feisty's own: not revalidated.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                self.connectFinished(handler, result: result)
            }
    }

    private func connectFinished(_ handler: UpstreamHandler, result: Result<any Channel, any Error>) {
        guard handler === upstream, handler.downstream != nil else {
            if case .success(let channel) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .success:
            execute(machine.upstreamConnected(expectsContinue: expectsContinue))
        case .failure(let error):
            upstream = nil
            if (error as? IOError)?.errnoCode == EAGAIN {
                execute(machine.upstreamBusy(now: .now()))  // the request parts stay queued for the retry
            } else {
                pendingParts.removeAll()
                execute(machine.upstreamConnectFailed(now: .now()))
            }
        }
    }

    /// Connects again after the app's listen queue was full, unless the exchange ended meanwhile.
    private func retryConnect(after delay: TimeAmount) {
        guard let context, let address = upstreamAddress else { return }
        let generation = upstreamGeneration
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let handler = bound.value
            guard let context = handler.context, handler.upstream == nil, !handler.pendingParts.isEmpty else { return }
            handler.connect(to: address, generation: generation, context: context)
        }
    }

    // MARK: app → client

    func upstreamRead(_ part: HTTPClientResponsePart, from handler: UpstreamHandler) {
        guard handler === upstream, let context else { return }
        switch part {
        case .head(let head):
            replayHead = nil  // the app answered: no replay any more
            let now = NIODeadline.now()
            let delimitedByClose =
                requestVersion.minor == 0 && !head.headers.contains(name: "content-length")
                && head.status.code >= 200 && head.status.code != 204 && head.status.code != 304
                && !isHeadRequest
            let action = machine.responseHead(
                upstreamKeepAlive: head.isKeepAlive,
                delimitedByClose: delimitedByClose,
                now: now
            )
            guard case .forwardResponseHead(let close) = action else { return }
            if entryOpen {
                entry.status = head.status.code
                entry.upstreamMilliseconds = Double((now - forwardedAt).nanoseconds) / 1e6
            }
            let out = environment.rewriter.downstreamResponse(head, requestVersion: requestVersion, close: close)
            context.write(self.wrapOutboundOut(.head(out)), promise: nil)
            needsFlush = true
        case .body(let buffer):
            guard case .forwardResponseBody = machine.responseBody(now: .now()) else { return }
            if entryOpen { entry.bytes += buffer.readableBytes }
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            needsFlush = true
        case .end(let trailers):
            let action = machine.responseEnd(now: .now())
            guard case .forwardResponseEnd(let closeDownstream, let keepUpstream, _) = action else {
                execute(action)
                return
            }
            finishEntry()
            if !keepUpstream { dropUpstream() }
            needsFlush = false
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
            if closeDownstream {
                edge.closeAfterPendingWrites()
            } else {
                releaseHeldRequests()
            }
        }
    }

    func upstreamReadComplete(from handler: UpstreamHandler) {
        guard handler === upstream, needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    func upstreamClosed(_ handler: UpstreamHandler) {
        guard handler === upstream else { return }
        upstream = nil
        pendingParts.removeAll()
        if needsFlush, let context {
            needsFlush = false
            context.flush()
        }
        execute(machine.upstreamClosed(now: .now()))
        resumeReadIfAllowed()
    }

    func upstreamBecameWritable(_ handler: UpstreamHandler) {
        guard handler === upstream else { return }
        resumeReadIfAllowed()
    }

    // MARK: executing decisions

    private func execute(_ action: ProxyConnectionStateMachine.Action) {
        switch action {
        case .none, .discard, .forwardResponseHead, .forwardResponseBody:
            break
        case .refusalComplete:
            releaseHeldRequests()
        case .forwardRequestHead, .forwardRequestBody, .forwardRequestEnd, .forwardResponseEnd:
            break  // handled where the part is at hand
        case .refuse(let refusal, let closeUpstream, let closeNow):
            if closeUpstream {
                dropUpstream()
            }
            writeRefusal(refusal, close: closeNow || machine.closesAfterRefusal)
            if closeNow { edge.closeAfterPendingWrites() }
            resumeReadIfAllowed()
        case .refuseAtEdgeAndClose(let refusal):
            dropUpstream()
            if entryOpen {
                entry.status = refusal.status.code
                entry.verdict = entry.verdict == "-" ? refusal.logLabel : entry.verdict
                finishEntry()
            }
            if let context { edge.writeRawAndClose(refusal.rawResponse(allocator: context.channel.allocator)) }
        case .close:
            dropUpstream()
            if entryOpen { finishEntry() }
            edge.closeAfterPendingWrites()
        case .upstreamReady(let sendContinue):
            if sendContinue { writeContinue() }
            if let upstream {
                while let part = pendingParts.popFirst() { upstream.write(part) }
                upstream.flushIfNeeded()
            }
            resumeReadIfAllowed()
        case .dropUpstream:
            dropUpstream()
        case .retryOnNewConnection:
            retryOnNewConnection()
        case .retryConnect(let delay):
            retryConnect(after: delay)
        }
    }

    /// The reused app connection closed before answering (the app timed it out as the request arrived): the same
    /// body-less request goes out once more on a new connection.
    private func retryOnNewConnection() {
        let snapshot = environment.routing.current
        guard let head = replayHead, let address = snapshot.upstream, let context else {
            replayHead = nil
            execute(machine.upstreamConnectFailed(now: .now()))
            return
        }
        replayHead = nil
        connectAnew(to: address, generation: snapshot.generation, sending: head, andEnd: true, context: context)
    }

    /// Replaces the app connection by a new one; `head` (and the request's end when `andEnd`) go out once it is up.
    private func connectAnew(
        to address: SocketAddress,
        generation: UInt64,
        sending head: HTTPRequestHead,
        andEnd: Bool,
        context: ChannelHandlerContext
    ) {
        dropUpstream()
        pendingParts.append(.head(head))
        if andEnd { pendingParts.append(.end(nil)) }
        connect(to: address, generation: generation, context: context)
    }

    /// GET, HEAD, OPTIONS, TRACE, PUT and DELETE may be sent twice (RFC 9110 §9.2.2).
    private static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }

    private func writeRefusal(_ refusal: ProxyRefusal, close: Bool) {
        guard let context else { return }
        let head = refusal.responseHead(version: requestVersion, close: close)
        let body = context.channel.allocator.buffer(string: refusal.body)
        if entryOpen {
            entry.status = refusal.status.code
            entry.bytes = body.readableBytes
            switch refusal {
            case .routeNotFound, .methodNotAllowed: break  // the gate verdict says it already
            default: entry.verdict += "," + refusal.logLabel
            }
        }
        finishEntry()
        needsFlush = false
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func writeContinue() {
        guard let context else { return }
        let head = HTTPResponseHead(version: requestVersion, status: .continue)
        context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
    }

    private func dropUpstream() {
        pendingParts.removeAll()
        guard let upstream else { return }
        self.upstream = nil
        upstream.detachAndClose()
    }

    private func resumeReadIfAllowed() {
        guard pendingRead, heldParts.isEmpty, let context, machine.mayReadDownstream,
            upstream.map({ $0.isWritable || !$0.isActive }) ?? true
        else { return }
        pendingRead = false
        context.read()
    }

    /// `Expect: 100-continue` (compared in place: this runs for every request).
    private static func expectsContinue(_ headers: HTTPHeaders) -> Bool {
        for header in headers where header.name.equalsASCIICaseInsensitive("expect") {
            return header.value.equalsASCIICaseInsensitive("100-continue")
        }
        return false
    }

    private func finishEntry() {
        guard entryOpen else { return }
        entryOpen = false
        environment.accessLogger?.info("\(entry.line)")
    }

    private func tickFired() {
        let action = machine.tick(now: .now())
        if case .none = action { return }
        execute(action)
    }
}
