import NIOCore
import NIOHTTP1

/// The app side of one proxied connection: relays response parts to the downstream handler on the same event
/// loop and gates its reads on the client connection's writability (the connect-proxy GlueHandler pattern).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The client side; `nil` once detached (a dropped connection's late events are ignored).
    var downstream: DownstreamHandler?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    private var needsFlush = false

    init(downstream: DownstreamHandler) {
        self.downstream = downstream
    }

    /// Whether the app connection can take more bytes now.
    var isWritable: Bool { context?.channel.isWritable ?? false }
    /// Whether the app connection is open.
    var isActive: Bool { context?.channel.isActive ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: inbound (app → client)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        downstream?.upstreamRead(self.unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstream?.upstreamReadComplete(from: self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstream?.upstreamClosed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a malformed response: the connection is unusable; channelInactive reports the consequence.
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { downstream?.upstreamBecameWritable(self) }
        context.fireChannelWritabilityChanged()
    }

    /// Whether a read is held back because the client is not keeping up.
    var isReadPaused: Bool { pendingRead }

    func read(context: ChannelHandlerContext) {
        if let downstream, !downstream.acceptsResponseBytes {
            pendingRead = true
        } else {
            context.read()
        }
    }

    // MARK: called by the downstream handler

    /// Writes a request part (flushed on the client's read-complete, batching a read's worth of parts).
    func write(_ part: HTTPClientRequestPart) {
        guard let context else { return }
        context.write(self.wrapOutboundOut(part), promise: nil)
        needsFlush = true
    }

    /// Flushes what `write` queued.
    func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// The client connection became writable again: resume a read held back.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Forgets the client and closes the connection.
    func detachAndClose() {
        downstream = nil
        context?.close(promise: nil)
    }
}
