import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The client side of the proxy, after `configureHTTPServerPipeline`: judges each request head (route gate,
/// limits), sends it to an app instance (a kept connection, or the least loaded instance of its event loop's routing
/// snapshot, waiting in the queue while none is ready), relays parts both ways and gates reads on the partner's
/// writability. Every decision comes from `ProxyConnectionStateMachine`; this class executes, and hands each
/// finished exchange's record to its event loop's observers.
final class DownstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let environment: ProxyEnvironment
    private let loop: LoopRouting
    private let edge: ConnectionEdgeHandler
    private var machine: ProxyConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var started = false

    /// The app connection: the live one, or the one being connected.
    private var upstream: UpstreamHandler?
    /// The instance `upstream` goes to.
    private var upstreamInstance: UpstreamInstance?
    /// The instance counting the exchange in progress among its requests in flight.
    private var countedInstance: UpstreamInstance?
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
    /// Registered in the loop's queue of requests waiting for an instance.
    private var isQueued = false
    /// Set while a request head waits for the app's first route table (until then nothing can be judged).
    private var tableDeadline: NIODeadline?
    /// The exchange's place under `--app-concurrency`.
    private var appSlot = AppSlot.none
    private var nextTicket: UInt64 = 0
    /// The guard's verdict on a head held for an app slot: it is taken again when the head comes back, not judged
    /// twice (a second strike, a second token).
    private var waitedVerdict: RequestVerdict?
    /// Whether an exchange of this connection counts as in flight for the loop's observers.
    private var exchangeInFlight = false
    /// When the head now waiting for an app slot started waiting (for its record's `queueWait`).
    private var queuedAt: NIODeadline?
    /// The client of the head waiting for an app slot, as the guard counts it among the waiting.
    private var waitingClient: IPAddress?

    private var peer = "-"
    /// The peer as an address (`nil`: a Unix socket peer), parsed once per connection for the guard.
    private var peerAddress: IPAddress?
    private var peerTrusted = false
    private var requestVersion = HTTPVersion.http1_1
    private var expectsContinue = false
    private var isHeadRequest = false
    /// The app's own page for this request's 404/405, picked at the head (only for a refused route).
    private var appPage: (pages: AppErrorPages.Prebuilt, response: AppErrorPages.Prebuilt.Response)?
    /// The rewritten head of a body-less idempotent request, kept (a reference, not a copy) until the app answers,
    /// for one resend when its instance fails first.
    private var resendHead: HTTPRequestHead?
    /// The app's response head, held until its first body part or its end arrives (or ``headHoldDelay`` passed):
    /// an instance that dies between writing its head and its body leaves nothing sent, so the request can go again.
    private var heldResponseHead: HTTPResponseHead?
    private var headHoldTimer: Scheduled<Void>?
    /// How long a response head waits for its body before it is relayed alone (a stream whose first part is late).
    static let headHoldDelay = TimeAmount.milliseconds(20)

    /// What the request in progress asks of the protocol (WebSocket handshake, another upgrade, nothing).
    private var upgrade = UpgradeRequest.none
    /// The HTTP parser stopped after an upgrade request that did not become a tunnel: it is replaced once that
    /// request's answer went out and its end came through the parser.
    private var parserStopped = false
    private var requestEndSeen = false
    private var answerWritten = false
    /// The app's `101`, relayed when the app's response ends and both connections become a tunnel.
    private var tunnelHead: HTTPResponseHead?
    /// The part of the answer in progress that a slow client has not taken and that did not fit in memory.
    private var spill: ResponseSpill?
    /// Spilling failed once (disk full): this connection keeps answers in memory from then on.
    private var spillFailed = false
    /// The end of an answer whose spilled bytes are still going out, and what follows it.
    private var deferredEnd: (trailers: HTTPHeaders?, then: AfterEnd)?
    /// When the client last took bytes of what feisty has pending for it (`nil`: nothing pending).
    private var sendProgressAt: NIODeadline?
    private var lastBufferedBytes = 0
    /// The record of an exchange whose answer was still spilling when the app finished it.
    private var spilledRecord: ExchangeRecord?

    /// What happens once an answer's end went out.
    private enum AfterEnd {
        /// Take the next request.
        case next
        /// Close the connection.
        case close
        /// Nothing: the connection discards the rest of a request body the app answered early, then closes.
        case linger
    }

    init(environment: ProxyEnvironment, loop: LoopRouting, edge: ConnectionEdgeHandler) {
        self.environment = environment
        self.loop = loop
        self.edge = edge
        self.machine = ProxyConnectionStateMachine(
            timeouts: environment.timeouts,
            maxBodyBytes: environment.configuration.maxBodyBytes,
            requestBufferBytes: environment.configuration.requestBufferBytes,
            now: .now()
        )
    }

    /// Whether the app's answer may be read now: the client connection takes more bytes, or the spill file does.
    var acceptsResponseBytes: Bool {
        guard let context else { return false }
        if context.channel.isWritable && (spill?.pending ?? 0) == 0 { return true }
        return spillHasRoom
    }

    /// Whether the answer in progress may spill (more) to a file.
    private var spillHasRoom: Bool {
        environment.spillDirectory != nil && !spillFailed
            && (spill?.pending ?? 0) < environment.configuration.responseSpillBytes
    }

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
            requestBufferBytes: environment.configuration.requestBufferBytes,
            now: .now()
        )
        if let remote = context.channel.remoteAddress, let address = remote.ipAddress {
            peer = address
            peerAddress = IPAddress(socketAddress: remote)
            peerTrusted = environment.identity.isTrusted(peerAddress)
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
        forgetHeldHead()
        emitSpilledRecord(undelivered: true)
        spill?.close()
        spill = nil
        deferredEnd = nil
        machine.downstreamClosed(now: .now())
        heldParts.removeAll()
        tick?.cancel()
        tick = nil
        leaveQueue()
        dropUpstream()
        edge.downstream = nil
        emitFinishedRecord()
        leaveAppQueue()
        setInFlight(false)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tick?.cancel()
        tick = nil
        // A WebSocket tunnel took over (or the connection is gone): its exchange no longer counts as in flight.
        setInFlight(false)
        releaseAppSlot()
        leaveAppQueue()
        self.context = nil
    }

    // MARK: client → app

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        // A pipelined request waits until the exchange in progress ended and its answer is on its way (or while the
        // client reads none of its answers); reads stop while one is held.
        if !heldParts.isEmpty || (Self.isHead(part) && !mayTakeRequestHead(context)) {
            heldParts.append(part)
            return
        }
        handle(part, context: context)
    }

    /// Whether a new request head can be taken: no exchange in progress, no answer still spilling, and the client
    /// reads what it was sent (a client that pipelines requests and never reads the answers stops being read).
    private func mayTakeRequestHead(_ context: ChannelHandlerContext) -> Bool {
        machine.acceptsRequestHead && deferredEnd == nil && context.channel.isWritable
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
            if Self.isHead(part) {
                if !mayTakeRequestHead(context) { break }
                // Still no route table and still within the queue timeout: the head keeps waiting.
                if loop.snapshot.matcher == nil, let deadline = tableDeadline, NIODeadline.now() < deadline { break }
                if case .waiting(_, _, let deadline) = appSlot, NIODeadline.now() < deadline { break }
            }
            heldParts.removeFirst()
            handle(part, context: context)
        }
        inReadBurst = wasInBurst
        releasingHeld = false
        if !inReadBurst {
            upstream?.flushIfNeeded()
            flushDownstream()
        }
        resumeReadIfAllowed()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            switch machine.quiesce() {
            case .none: break
            case .close: closeConnection()
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            receive(head: head, context: context)
        case .body(let buffer):
            execute(machine.requestBody(count: buffer.readableBytes, now: .now()), part: .body(.byteBuffer(buffer)))
        case .end(let trailers):
            requestEndSeen = true
            execute(machine.requestEnd(now: .now()), part: .end(trailers))
            replaceStoppedParser()
        }
    }

    private func receive(head: HTTPRequestHead, context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let snapshot = loop.snapshot
        guard let matcher = snapshot.matcher else {
            awaitRouteTable(head, now: now)
            return
        }
        tableDeadline = nil
        upgrade = UpgradeRequest(head.headers)
        parserStopped = upgrade.stopsParser
        requestEndSeen = false
        answerWritten = false
        // The gate runs once per request, on the head's own uri string.
        let verdict = matcher.gate(
            method: head.method.rawValue,
            target: head.uri,
            host: head.headers.first(name: "host") ?? "localhost",
            websocket: upgrade.isWebSocket
        )
        // The client is computed once per request; from an untrusted peer it is the peer itself (no parsing).
        let client =
            peerTrusted
            ? environment.identity.client(
                peer: peer,
                peerTrusted: true,
                forwardedFor: head.headers["x-forwarded-for"],
                forwarded: head.headers["forwarded"]
            ) : peer
        var forwardUndeclared = false
        var guardRefusal: ProxyRefusal?
        // A trusted proxy is never judged itself (a request it sends without naming a client); its clients are.
        let address = peerTrusted ? (client == peer ? nil : IPAddress(client)) : peerAddress
        // A head that waited for an app slot was judged before it waited: not again (no second strike or token).
        let judged =
            waitedVerdict
            ?? environment.clientGuard?.judge(request: address, target: head.uri, verdict: verdict, now: now)
        waitedVerdict = nil
        if let judged {
            switch judged {
            case .pass, .refuseUndeclared: break
            case .forwardUndeclared: forwardUndeclared = true
            case .banned(closeSilently: true):
                closeConnection()
                return
            case .banned(closeSilently: false): guardRefusal = .banned
            case .throttled(let seconds): guardRefusal = .throttled(retryAfterSeconds: seconds)
            }
        }
        // In flight from here (a head waiting for an app slot included) until its record is handed over.
        setInFlight(true)
        var decision = environment.admission.decide(head: head, verdict: verdict, forwardUndeclared: forwardUndeclared)
        if let guardRefusal { decision = decision.overridden(by: guardRefusal) }
        if case .forward = decision, let admission = environment.appAdmission {
            switch takeAppSlot(head, admission: admission, client: address, judged: judged ?? .pass, now: now) {
            case .go: break
            case .wait: return
            case .busy: decision = decision.overridden(by: .appBusy)
            }
        }
        appPage = nil
        if case .refuse(let refusal, _) = decision, let pages = snapshot.errorPages {
            appPage = pages.response(for: refusal, accept: head.headers.first(name: "accept")).map { (pages, $0) }
        }
        requestVersion = head.version
        expectsContinue = head.version.minor >= 1 && Self.expectsContinue(head.headers)
        isHeadRequest = head.method == .HEAD
        var record = ExchangeRecord(
            client: client,
            method: head.method,
            target: head.uri,
            verdict: verdict,
            receivedAt: now
        )
        record.guardVerdict = judged
        if let queuedAt {
            record.queueWait = now - queuedAt
            self.queuedAt = nil
        }
        var keptInstance: Int?
        if let upstream, upstream.isActive, let instance = upstreamInstance, snapshot.pool.contains(instance.id) {
            keptInstance = instance.id
        }
        let action = machine.requestHead(
            record,
            decision: decision,
            keepAlive: head.isKeepAlive,
            expectsContinue: expectsContinue,
            keptInstance: keptInstance,
            idempotent: Self.isIdempotent(head.method),
            upgrade: upgrade.isWebSocket,
            now: now
        )
        switch action {
        case .sendOnKeptConnection(let sendContinue):
            let rewritten = rewrite(head)
            resendHead = rewritten
            count(upstreamInstance, now: now)
            send(.head(rewritten))
            if sendContinue { writeContinue() }
        case .dispatch:
            let rewritten = rewrite(head)
            resendHead = rewritten
            dropUpstream()
            pendingParts.append(.head(rewritten))
            dispatch(avoiding: nil, now: now)
        case .buffer(let sendContinue):
            // The body is received whole first; the head waits with it (`--request-buffer`).
            dropUpstream()
            pendingParts.append(.head(rewrite(head)))
            if sendContinue {
                writeContinue()
                expectsContinue = false  // answered: not again when the app connection opens
            }
        case .refuse(let refusing):
            execute(refusing)
        case .close:
            closeConnection()
        }
    }

    /// The head sent to the app; a WebSocket handshake keeps its `Upgrade` (every other upgrade is dropped there).
    private func rewrite(_ head: HTTPRequestHead) -> HTTPRequestHead {
        var rewritten = environment.rewriter.upstreamRequest(head, peer: peer, peerTrusted: peerTrusted)
        if case .websocket(let name) = upgrade {
            rewritten.headers.add(name: "connection", value: "Upgrade")
            rewritten.headers.add(name: "upgrade", value: name)
        }
        return rewritten
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
        flushDownstream()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if mayRead(context) {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// Whether the client may be read now: nothing held, the state allows it, the app connection takes the bytes,
    /// and the client takes its answers (so feisty's own refusals respect backpressure like forwarded answers).
    private func mayRead(_ context: ChannelHandlerContext) -> Bool {
        heldParts.isEmpty && machine.mayReadDownstream && context.channel.isWritable
            && (upstream.map({ $0.isWritable || !$0.isActive }) ?? true)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            sendProgressAt = sendProgressAt.map { _ in .now() }
            drainSpill(context: context)
            upstream?.resumeReading()
            releaseHeldRequests()
            resumeReadIfAllowed()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            let refusal: ProxyRefusal =
                parserError == .headerOverflow
                ? .headerTooLarge : .malformedRequest(reason: "unparseable request (\(parserError))")
            let now = NIODeadline.now()
            switch machine.parseError(refusal, unparsed: unparsedRecord(now: now), now: now) {
            case .refuseAtEdgeAndClose(let refusal): refuseAtEdgeAndClose(refusal)
            case .close: closeConnection()
            }
        } else {
            // I/O errors (reset by peer): nothing can be answered.
            context.close(promise: nil)
        }
    }

    // MARK: choosing an instance

    /// Sends the pending request to the least loaded ready instance (avoiding one that just failed it), or queues
    /// it until the supervisor publishes one.
    private func dispatch(avoiding: Int?, now: NIODeadline) {
        guard let context else { return }
        let pool = loop.snapshot.pool
        if let instance = pool.pick(excluding: avoiding, rotation: loop.nextRotation()) {
            leaveQueue()
            machine.instanceChosen(instance.id, now: now)
            count(instance, now: now)
            connect(to: instance, context: context)
            return
        }
        switch machine.noInstanceReady(queueFull: loop.waitingCount >= environment.queueLimitPerLoop, now: now) {
        case .wait:
            count(nil, now: now)  // a draining or failed instance does not wait for a request that left it
            if !isQueued {
                isQueued = true
                loop.wait(self)
            }
        case .refuse(let refusing):
            execute(refusing)
        }
    }

    /// The supervisor published ready instances: a queued request goes now.
    func instancesPublished() {
        isQueued = false
        if tableDeadline != nil {
            releaseHeldRequests()
            return
        }
        let now = NIODeadline.now()
        dispatch(avoiding: machine.avoidedInstance(now: now), now: now)
    }

    /// The first instance has not reported its route table yet: the head is held (reading stops) until a table is
    /// published, or answered 503 once the queue timeout has passed.
    private func awaitRouteTable(_ head: HTTPRequestHead, now: NIODeadline) {
        let deadline = tableDeadline ?? now + environment.timeouts.queue
        tableDeadline = deadline
        if now < deadline {
            heldParts.prepend(.head(head))
            if !isQueued {
                isQueued = true
                loop.wait(self)
            }
            return
        }
        tableDeadline = nil
        let framing = (try? RequestAdmission.framing(of: head).get()) ?? .none
        let record = ExchangeRecord(client: peer, method: head.method, target: head.uri, verdict: nil, receivedAt: now)
        setInFlight(true)
        switch machine.requestHead(
            record,
            decision: .refuse(.appUnavailable, framing: framing),
            keepAlive: head.isKeepAlive,
            expectsContinue: false,
            keptInstance: nil,
            now: now
        ) {
        case .refuse(let refusing): execute(refusing)
        case .sendOnKeptConnection, .dispatch, .buffer, .close: closeConnection()
        }
    }

    // MARK: --app-concurrency

    /// Takes an app slot for the request about to be forwarded, or queues the head for one (reading stops).
    private func takeAppSlot(
        _ head: HTTPRequestHead,
        admission: AppAdmission,
        client: IPAddress?,
        judged: RequestVerdict,
        now: NIODeadline
    ) -> AppSlot.Outcome {
        switch appSlot {
        case .held:
            return .go
        case .waiting(_, _, let deadline):
            if now < deadline {
                heldParts.prepend(.head(head))
                waitedVerdict = judged
                return .wait
            }
            guard case .waiting(let ticket, _, _) = appSlot else { return .busy }
            appSlot = .none
            stoppedWaitingForSlot()
            switch admission.cancel(ticket) {
            case .wasAdmitted:
                // The slot was handed over just as the wait ran out: use it (its late wake is ignored).
                appSlot = .held(ticket)
                return .go
            case .wasWaiting, .wasNotWaiting:
                return .busy
            }
        case .none:
            nextTicket &+= 1
            let id = nextTicket
            let bound = NIOLoopBound(self, eventLoop: loop.eventLoop)
            let eventLoop = loop.eventLoop
            let priority = environment.clientGuard?.priority(of: client, now: now) ?? .unknown
            let ticket = AdmissionTicket(priority: priority) { wake in
                eventLoop.execute { bound.value.appSlotWoke(wake, id: id) }
            }
            switch admission.enter(ticket) {
            case .admitted:
                appSlot = .held(ticket)
                return .go
            case .queued:
                break
            case .queuedShedding(let shed):
                shed.wake(.shed)
            case .full:
                return .busy
            }
            heldParts.prepend(.head(head))
            waitedVerdict = judged
            queuedAt = now
            appSlot = .waiting(ticket, id: id, deadline: now + environment.timeouts.queue)
            if let client, let clientGuard = environment.clientGuard {
                clientGuard.startedWaiting(client)
                waitingClient = client
            }
            return .wait
        }
    }

    /// The admission queue decided about the waiting head: it goes now, or (shed for a better client) gets 503.
    private func appSlotWoke(_ wake: AdmissionTicket.Wake, id: UInt64) {
        guard case .waiting(let ticket, let waitingID, _) = appSlot, waitingID == id else { return }
        switch wake {
        case .admitted:
            appSlot = .held(ticket)
            stoppedWaitingForSlot()
        case .shed:
            appSlot = .waiting(ticket, id: id, deadline: .now())
        }
        releaseHeldRequests()
    }

    private func stoppedWaitingForSlot() {
        guard let client = waitingClient else { return }
        waitingClient = nil
        environment.clientGuard?.stoppedWaiting(client)
    }

    /// The exchange left the app: its slot goes to the best waiting request.
    private func releaseAppSlot() {
        guard case .held(let ticket) = appSlot, let admission = environment.appAdmission else { return }
        appSlot = .none
        admission.leave(ticket)?.wake(.admitted)
    }

    /// The connection closed while its head waited: it leaves the queue (or gives back a slot handed to it).
    private func leaveAppQueue() {
        guard case .waiting(let ticket, _, _) = appSlot, let admission = environment.appAdmission else { return }
        appSlot = .none
        stoppedWaitingForSlot()
        if admission.cancel(ticket) == .wasAdmitted { admission.leave(ticket)?.wake(.admitted) }
    }

    private func leaveQueue() {
        guard isQueued else { return }
        isQueued = false
        loop.stopWaiting(self)
    }

    /// Makes `instance` count the exchange in progress (and the previous one, if any, stop counting it).
    private func count(_ instance: UpstreamInstance?, now: NIODeadline) {
        countedInstance?.exchangeEnded(answered: false)
        countedInstance = instance
        instance?.exchangeStarted(now: now)
    }

    /// Tells the loop's observers when this connection's exchange starts or stops being in flight (once each way:
    /// a record the machine never finishes, a closed connection or a tunnel must not leave it counted).
    private func setInFlight(_ inFlight: Bool) {
        guard exchangeInFlight != inFlight else { return }
        exchangeInFlight = inFlight
        loop.inFlightChanged(by: inFlight ? 1 : -1)
    }

    /// Hands the record of the exchange that just ended to the loop's observers.
    /// Hands the finished exchange's record to the observers; `responseBytes` is the size of the body feisty wrote
    /// itself (an app's own error page is not the size of feisty's text).
    private func emitFinishedRecord(responseBytes: Int? = nil) {
        releaseAppSlot()
        guard var record = machine.takeFinishedRecord() else { return }
        setInFlight(false)
        if let responseBytes { record.responseBytes = Int64(responseBytes) }
        if let instance = countedInstance {
            instance.exchangeEnded(answered: record.refusal == nil && record.status != 0)
            countedInstance = nil
        }
        if (spill?.pending ?? 0) > 0 {
            // The app is done but part of its answer still waits in the spill file: the record goes out when the
            // answer has left (or with what was not delivered subtracted, when the client is cut).
            spilledRecord = record
            return
        }
        loop.exchangeEnded(record)
    }

    /// Hands over the record of an answer that was still spilling, less the bytes that never left feisty.
    private func emitSpilledRecord(undelivered: Bool) {
        guard var record = spilledRecord else { return }
        spilledRecord = nil
        if undelivered, let context {
            let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            let left = (spill?.pending ?? 0) + Int64(buffered)
            record.responseBytes = max(0, record.responseBytes - left)
            record.endedAt = .now()
        }
        loop.exchangeEnded(record)
    }

    // MARK: app connection

    private func connect(to instance: UpstreamInstance, context: ChannelHandlerContext) {
        let handler = UpstreamHandler(downstream: self)
        upstream = handler
        upstreamInstance = instance
        let bound = NIOLoopBound(handler, eventLoop: context.eventLoop)
        // ClientBootstrap sets TCP_NODELAY itself (and skips it for a Unix socket).
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(environment.configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Request fields were parsed by NIO (CR, LF, NUL rejected) or are feisty's own: not revalidated.
                    // `.forwardBytes`: after a `101`, the first WebSocket frames the decoder holds go to the tunnel.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        enableOutboundHeaderValidation: false
                    )
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .connect(to: instance.address)
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
        let now = NIODeadline.now()
        switch result {
        case .success:
            switch machine.upstreamConnected(expectsContinue: expectsContinue, now: now) {
            case .sendPending(let sendContinue):
                if sendContinue { writeContinue() }
                while let part = pendingParts.popFirst() { handler.write(part) }
                handler.flushIfNeeded()
                resumeReadIfAllowed()
            case .drop:
                dropUpstream()
            }
        case .failure(let error):
            // The request parts stay queued: nothing reached the app, they go out on the next connection.
            upstream = nil
            let busy = (error as? IOError)?.errnoCode == EAGAIN
            switch machine.upstreamConnectFailed(busy: busy, now: now) {
            case .none:
                break
            case .retryConnect(let delay):
                retryConnect(after: delay)
            case .dispatch(let avoiding):
                dispatch(avoiding: avoiding, now: now)
            case .refuse(let refusing):
                execute(refusing)
            }
        }
    }

    /// Connects to the same instance again after its listen queue was full, unless the exchange ended meanwhile.
    private func retryConnect(after delay: TimeAmount) {
        guard let context, let instance = upstreamInstance else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let handler = bound.value
            guard let context = handler.context, handler.upstream == nil, !handler.pendingParts.isEmpty else { return }
            handler.connect(to: instance, context: context)
        }
    }

    // MARK: app → client

    func upstreamRead(_ part: HTTPClientResponsePart, from handler: UpstreamHandler) {
        guard handler === upstream, let context else { return }
        let now = NIODeadline.now()
        upstreamInstance?.markProgress(now: now)
        switch part {
        case .head(let head):
            let delimitedByClose =
                requestVersion.minor == 0 && !head.headers.contains(name: "content-length")
                && head.status.code >= 200 && head.status.code != 204 && head.status.code != 304
                && !isHeadRequest
            switch machine.responseHead(
                status: head.status.code,
                upstreamKeepAlive: head.isKeepAlive,
                delimitedByClose: delimitedByClose,
                now: now
            ) {
            case .forward(let close):
                heldResponseHead = environment.rewriter.downstreamResponse(
                    head,
                    requestVersion: requestVersion,
                    close: close
                )
            case .upgrade:
                // Relayed as the app wrote it, `Upgrade` and `Connection` included, once the app's side ends.
                var upgraded = head
                upgraded.version = requestVersion
                tunnelHead = upgraded
            case .refuse(let refusing):
                execute(refusing)
            case .ignore:
                break
            }
        case .body(let buffer):
            switch machine.responseBody(count: buffer.readableBytes, now: now) {
            case .forward:
                relayHeldHead(context: context)
                relayBody(buffer, context: context)
            case .ignore:
                break
            }
        case .end(let trailers):
            if let head = tunnelHead {
                tunnelHead = nil
                startTunnel(head, context: context, app: handler)
                return
            }
            relayHeldHead(context: context)
            let action = machine.responseEnd(now: now)
            emitFinishedRecord()
            switch action {
            case .complete(let closeDownstream, let keepUpstream):
                if !keepUpstream { dropUpstream() }
                endAnswer(trailers, then: closeDownstream ? .close : .next, context: context)
            case .completeEarly:
                dropUpstream()
                endAnswer(trailers, then: .linger, context: context)
            case .ignore:
                break
            }
        }
    }

    func upstreamReadComplete(from handler: UpstreamHandler) {
        guard handler === upstream, let context else { return }
        if heldResponseHead != nil && headHoldTimer == nil {
            // The head came without its body in this read: it waits a little for it, then goes alone.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            headHoldTimer = context.eventLoop.scheduleTask(in: Self.headHoldDelay) {
                let handler = bound.value
                handler.headHoldTimer = nil
                guard let context = handler.context, handler.heldResponseHead != nil else { return }
                handler.relayHeldHead(context: context)
                handler.needsFlush = false
                context.flush()
            }
        }
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Writes a part of the app's answer to the client, or to the spill file while the client is not keeping up
    /// (and while earlier bytes still wait there: order is kept).
    private func relayBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let spilling = (spill?.pending ?? 0) > 0
        if spilling || (!context.channel.isWritable && spillHasRoom), let directory = environment.spillDirectory {
            do {
                let file = try spill ?? ResponseSpill(directory: directory)
                spill = file
                try file.append(buffer)
                return
            } catch {
                // Disk full or no O_TMPFILE: what was spilled goes out first, then memory takes the rest.
                spillFailed = true
                if let region = spill?.takeRegion() {
                    context.write(self.wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
                }
            }
        }
        context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        needsFlush = true
    }

    /// Hands what the spill file holds to the client connection (it can take more now), and the answer's end once
    /// nothing is left there.
    private func drainSpill(context: ChannelHandlerContext) {
        guard let spill else { return }
        if let region = spill.takeRegion() {
            context.writeAndFlush(self.wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
        }
        if spill.pending == 0, let end = deferredEnd {
            deferredEnd = nil
            endAnswer(end.trailers, then: end.then, context: context)
        }
    }

    /// Writes the end of the app's answer (after whatever is still spilled), then does what follows it.
    private func endAnswer(_ trailers: HTTPHeaders?, then: AfterEnd, context: ChannelHandlerContext) {
        if let spill {
            if spill.pending > 0 {
                deferredEnd = (trailers, then)
                return
            }
            // The file closes once everything handed over from it has been written.
            emitSpilledRecord(undelivered: false)
            self.spill = nil
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in spill.close() }
            needsFlush = false
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: written)
        } else {
            needsFlush = false
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
        }
        answerWentOut()
        switch then {
        case .close: edge.closeAfterPendingWrites()
        case .next: releaseHeldRequests()
        case .linger: break
        }
    }

    /// An answer (the app's or feisty's) was written whole.
    private func answerWentOut() {
        answerWritten = true
        replaceStoppedParser()
    }

    /// Once both the answer and the request's end went through, a parser stopped by an ignored upgrade is replaced,
    /// so the connection goes on serving.
    private func replaceStoppedParser() {
        guard parserStopped, answerWritten, requestEndSeen, let context else { return }
        parserStopped = false
        do {
            try ProxyServer.replaceHTTPCodec(in: context.pipeline.syncOperations, environment: environment)
        } catch {
            closeConnection()
        }
    }

    /// The app accepted a WebSocket handshake: the `101` goes to the client, both connections drop their HTTP
    /// handlers for a ``TunnelHandler`` each, and this handler leaves. The handshake's record is finished by the
    /// tunnel when it closes; the instance stops counting it as a request in flight (a WebSocket may stay open and
    /// silent for hours, which is no hang).
    private func startTunnel(_ head: HTTPResponseHead, context: ChannelHandlerContext, app: UpstreamHandler) {
        guard let record = machine.takeTunnelRecord(), let appContext = app.context else {
            closeConnection()
            return
        }
        countedInstance?.exchangeEnded(answered: true)
        countedInstance = nil
        // A WebSocket is not a request in the app's sense: it gives its `--app-concurrency` slot back now (this
        // handler leaves the pipeline, so nothing would give it back later).
        releaseAppSlot()
        tick?.cancel()
        tick = nil
        parserStopped = false
        context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
        let tunnel = Tunnel(
            record: record,
            loop: loop,
            idleTimeout: environment.configuration.tunnelIdleTimeout,
            now: .now()
        )
        upstream = nil
        app.downstream = nil
        edge.downstream = nil
        tunnel.splice(client: context, app: appContext)
    }

    private func forgetHeldHead() {
        heldResponseHead = nil
        headHoldTimer?.cancel()
        headHoldTimer = nil
    }

    /// Writes the held response head (before the first body part or the end); the request is then past resending.
    private func relayHeldHead(context: ChannelHandlerContext) {
        headHoldTimer?.cancel()
        headHoldTimer = nil
        guard let head = heldResponseHead else { return }
        heldResponseHead = nil
        resendHead = nil  // the answer is on its way to the client: no resend any more
        machine.responseHeadRelayed()
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        needsFlush = true
    }

    func upstreamClosed(_ handler: UpstreamHandler) {
        guard handler === upstream else { return }
        let failure = upstreamInstance?.failure ?? .none
        // A head held back is forgotten: the request goes again or feisty answers (nothing reached the client).
        forgetHeldHead()
        upstream = nil
        pendingParts.removeAll()
        if needsFlush, let context {
            needsFlush = false
            context.flush()
        }
        let now = NIODeadline.now()
        switch machine.upstreamClosed(failure: failure, now: now) {
        case .none:
            break
        case .dispatch(let avoiding):
            // Sent again, whole: a resendable request has no body, so its head and end are all there is (the end
            // goes now if it arrived already, else when it arrives).
            if let head = resendHead {
                pendingParts.append(.head(head))
                if machine.requestEnded { pendingParts.append(.end(nil)) }
            }
            dispatch(avoiding: avoiding, now: now)
        case .refuse(let refusing):
            execute(refusing)
        case .close:
            emitFinishedRecord()
            closeConnection()
        }
        resumeReadIfAllowed()
    }

    func upstreamBecameWritable(_ handler: UpstreamHandler) {
        guard handler === upstream else { return }
        resumeReadIfAllowed()
    }

    // MARK: executing decisions

    /// Executes what a request body part or end leads to; `part` is the part itself, passed on when forwarded.
    private func execute(_ action: ProxyConnectionStateMachine.RequestPartAction, part: HTTPClientRequestPart) {
        switch action {
        case .forward:
            send(part)
        case .discard:
            break
        case .refuse(let refusing):
            execute(refusing)
        case .close:
            emitFinishedRecord()
            closeConnection()
        case .refusalComplete:
            releaseHeldRequests()
        case .dispatch:
            // The buffered body is whole (or outgrew the buffer): the request goes to an instance now.
            pendingParts.append(part)
            dispatch(avoiding: nil, now: .now())
        }
    }

    /// Answers with feisty's own response instead of the app's (and not a held head of the app's).
    private func execute(_ refusing: ProxyConnectionStateMachine.Refusing) {
        forgetHeldHead()
        leaveQueue()
        if refusing.closeUpstream { dropUpstream() }
        let sent = writeRefusal(refusing.refusal, close: refusing.closeNow || machine.closesAfterRefusal)
        emitFinishedRecord(responseBytes: sent)
        if refusing.closeNow {
            edge.closeAfterPendingWrites()
        } else {
            answerWentOut()
        }
        resumeReadIfAllowed()
    }

    private func refuseAtEdgeAndClose(_ refusal: ProxyRefusal) {
        leaveQueue()
        dropUpstream()
        emitFinishedRecord()
        if let context { edge.writeRawAndClose(refusal.rawResponse(allocator: context.channel.allocator)) }
    }

    private func closeConnection() {
        leaveQueue()
        dropUpstream()
        emitFinishedRecord()
        edge.closeAfterPendingWrites()
    }

    /// GET, HEAD, OPTIONS, TRACE, PUT and DELETE may be sent twice (RFC 9110 §9.2.2).
    private static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }

    /// Writes feisty's answer; returns the size of its body (`nil`: nothing written through the codec).
    @discardableResult
    private func writeRefusal(_ refusal: ProxyRefusal, close: Bool) -> Int? {
        guard let context else { return nil }
        if refusal == .connectNotAllowed {
            // The codec frames every answer to CONNECT without a body (a tunnel would follow): written below it.
            edge.writeRawAndClose(refusal.rawResponse(allocator: context.channel.allocator))
            return nil
        }
        let head: HTTPResponseHead
        let body: ByteBuffer
        if let page = appPage, AppErrorPages.Prebuilt.covers(refusal) {
            // The app's own 404/405 (prebuilt: a headers copy plus Allow and Connection); feisty's text otherwise.
            head = page.pages.head(page.response, refusal: refusal, version: requestVersion, close: close)
            body = page.response.body
        } else {
            head = refusal.responseHead(version: requestVersion, close: close)
            body = context.channel.allocator.buffer(string: refusal.body)
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.write(self.wrapOutboundOut(.end(nil)), promise: nil)
        // Refusals of one read (a client pipelining probes) go out in one flush: a flush per refusal against a full
        // socket would retry the whole pending vector each time.
        needsFlush = true
        if !inReadBurst { flushDownstream() }
        return isHeadRequest ? 0 : body.readableBytes
    }

    private func flushDownstream() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
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
        guard pendingRead, let context, mayRead(context) else { return }
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

    /// The record of a request whose head never parsed: only the client is known.
    private func unparsedRecord(now: NIODeadline) -> ExchangeRecord {
        ExchangeRecord(client: peer, method: .RAW(value: "-"), target: "-", verdict: nil, receivedAt: now)
    }

    /// What the machine's periodic check needs to know of the connection's flow.
    private func observeFlow(now: NIODeadline) -> ProxyConnectionStateMachine.Flow {
        var flow = ProxyConnectionStateMachine.Flow()
        flow.clientReadPaused = pendingRead
        flow.appReadPaused = upstream?.isReadPaused ?? false
        guard let context else { return flow }
        if !context.channel.isWritable || deferredEnd != nil || (spill?.pending ?? 0) > 0 {
            // Bytes wait for the client: progress is its outbound buffer shrinking (or a writability change).
            let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            if sendProgressAt == nil || buffered < lastBufferedBytes { sendProgressAt = now }
            lastBufferedBytes = buffered
        } else {
            sendProgressAt = nil
        }
        flow.sendStalledSince = sendProgressAt
        return flow
    }

    private func tickFired() {
        let now = NIODeadline.now()
        if let tableDeadline, now >= tableDeadline {
            leaveQueue()
            releaseHeldRequests()  // the held head is answered 503
        }
        if case .waiting(_, _, let deadline) = appSlot, now >= deadline {
            releaseHeldRequests()  // the held head is answered 503 (or goes, if a slot came just now)
        }
        switch machine.tick(now: now, flow: observeFlow(now: now)) {
        case .none:
            return
        case .close:
            closeConnection()
        case .abandon:
            leaveQueue()
            dropUpstream()
            emitFinishedRecord()
            emitSpilledRecord(undelivered: true)
            context?.close(promise: nil)
        case .refuseAtEdgeAndClose(let refusal):
            // The head never completed (408): its record names only the client.
            machine.finishUnparsed(unparsedRecord(now: now), refusal: refusal, now: now)
            refuseAtEdgeAndClose(refusal)
        case .refuse(let refusing):
            execute(refusing)
        case .dispatch:
            dispatch(avoiding: nil, now: now)
        }
    }
}
