import NIOCore

/// The first handler of a client connection, on the socket side of the HTTP codec. It tells the downstream
/// handler when the first byte of a request arrives (the header timeout starts then, not at the previous
/// response), and writes feisty's last words as raw bytes when the parser state is unusable (400, 431, 408).
final class ConnectionEdgeHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Set by the downstream handler when it is added; cleared when the connection closes (breaks the cycle).
    var downstream: DownstreamHandler?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.downstream = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        downstream?.rawBytesArrived()
        context.fireChannelRead(data)
    }

    /// Writes `bytes` below the codec, then closes the connection.
    func writeRawAndClose(_ bytes: ByteBuffer) {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Closes the connection once everything written before (through the codec too) has reached the socket.
    func closeAfterPendingWrites() {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
