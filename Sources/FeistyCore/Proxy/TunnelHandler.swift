import NIOCore
import NIOHTTP1

/// One side of a WebSocket tunnel: after the app's `101`, the client connection and the app connection each get one
/// of these in place of their HTTP handlers, and bytes pass through unchanged. Reads on one side wait while its
/// partner cannot take more bytes (the GlueHandler pattern of NIO's connect-proxy example), so neither side
/// buffers more than a write buffer.
final class TunnelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which connection this handler sits on.
    enum Side { case client, app }

    let side: Side
    let tunnel: Tunnel
    /// The other side; set once both are created, cleared when the tunnel ends (breaks the cycle).
    var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    init(side: Side, tunnel: Tunnel) {
        self.side = side
        self.tunnel = tunnel
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    /// Whether this side's connection can take more bytes now.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        tunnel.carried(bytes.readableBytes, from: side)
        partner?.partnerWrite(bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tunnel.sideClosed()
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown: a tunnel has no request boundary to wait for.
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: called by the partner

    private func partnerWrite(_ bytes: ByteBuffer) {
        context?.write(self.wrapOutboundOut(bytes), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    /// The other side closed: this one closes once what it was given has been written.
    private func partnerClose() {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func partnerBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Starts reading (the HTTP handlers this one replaced may have held a read back).
    func start() {
        context?.read()
    }

    /// Flushes what the partner wrote.
    func flush() {
        context?.flush()
    }

    /// Closes this side now (idle timeout).
    func close() {
        context?.close(promise: nil)
    }
}

/// What both sides of one tunnel share: the handshake's exchange record, finished with the bytes carried each way
/// when the tunnel closes, and the idle clock (`--tunnel-idle-timeout`).
final class Tunnel {
    private var record: ExchangeRecord
    private let loop: LoopRouting
    private let idleTimeout: TimeAmount
    private var lastActivity: NIODeadline
    private var idleCheck: RepeatedTask?
    private var open = 2
    /// Both sides, for the idle timeout.
    var sides: [TunnelHandler] = []

    init(record: ExchangeRecord, loop: LoopRouting, idleTimeout: TimeAmount, now: NIODeadline) {
        self.record = record
        self.loop = loop
        self.idleTimeout = idleTimeout
        self.lastActivity = now
    }

    /// Replaces the HTTP handlers of both connections with a ``TunnelHandler`` each and starts the idle clock.
    /// `client` and `app` are the contexts of the HTTP handlers that leave (the downstream and upstream handlers);
    /// the decoders leave at the end of this event-loop turn and hand over the bytes they hold (the first WebSocket
    /// frames) to the tunnel. Anything going wrong closes both connections.
    func splice(client: ChannelHandlerContext, app: ChannelHandlerContext) {
        let clientSide = TunnelHandler(side: .client, tunnel: self)
        let appSide = TunnelHandler(side: .app, tunnel: self)
        clientSide.partner = appSide
        appSide.partner = clientSide
        sides = [clientSide, appSide]
        do {
            let clientPipeline = client.pipeline.syncOperations
            let clientDecoder = try clientPipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let clientEncoder = try clientPipeline.handler(type: HTTPResponseEncoder.self)
            try clientPipeline.addHandler(clientSide, position: .after(clientDecoder))
            let appPipeline = app.pipeline.syncOperations
            let appDecoder = try appPipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            let appEncoder = try appPipeline.handler(type: HTTPRequestEncoder.self)
            try appPipeline.addHandler(appSide, position: .after(appDecoder))
            appPipeline.removeHandler(context: app, promise: nil)
            appPipeline.removeHandler(appEncoder, promise: nil)
            // The bytes a leaving decoder hands over come without a read-complete (which is what flushes the other
            // side): once it is gone, the side it fed is flushed (the app's first frame often arrives with its 101).
            let appDecoderGone = app.eventLoop.makePromise(of: Void.self)
            appDecoderGone.futureResult.assumeIsolated().whenComplete { _ in clientSide.flush() }
            appPipeline.removeHandler(appDecoder, promise: appDecoderGone)
            clientPipeline.removeHandler(clientEncoder, promise: nil)
            let clientDecoderGone = client.eventLoop.makePromise(of: Void.self)
            clientDecoderGone.futureResult.assumeIsolated().whenComplete { _ in appSide.flush() }
            clientPipeline.removeHandler(clientDecoder, promise: clientDecoderGone)
            clientPipeline.removeHandler(context: client, promise: nil)
        } catch {
            sides = []
            app.close(promise: nil)
            client.close(promise: nil)
            return
        }
        startIdleClock(on: client.eventLoop)
        clientSide.start()
        appSide.start()
    }

    /// Checks the idle clock every quarter of the timeout (at most every second).
    private func startIdleClock(on eventLoop: any EventLoop) {
        let interval: TimeAmount = max(
            .milliseconds(50),
            min(.seconds(1), .nanoseconds(idleTimeout.nanoseconds / 4))
        )
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        idleCheck = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let tunnel = bound.value
            if NIODeadline.now() - tunnel.lastActivity >= tunnel.idleTimeout {
                for side in tunnel.sides { side.close() }
            }
        }
    }

    func carried(_ count: Int, from side: TunnelHandler.Side) {
        lastActivity = .now()
        switch side {
        case .client: record.requestBytes += Int64(count)
        case .app: record.responseBytes += Int64(count)
        }
    }

    /// One side closed; when both have, the exchange's record goes to the loop's observers.
    func sideClosed() {
        open -= 1
        guard open == 0 else { return }
        idleCheck?.cancel()
        idleCheck = nil
        sides = []
        record.endedAt = .now()
        loop.exchangeEnded(record)
    }
}
