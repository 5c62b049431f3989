import NIOCore
import NIOPosix

/// One side of a relayed connection (the connect-proxy GlueHandler pattern): bytes read on one channel are written
/// to the partner, flushed once per read burst, and reads wait while the partner cannot take more.
final class Glue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var partner: Glue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var needsFlush = false
    /// Bytes that arrived before the partner's connection was up.
    private var early: [NIOAny] = []

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        for data in early { context.write(data, promise: nil) }
        if !early.isEmpty { context.flush() }
        early = []
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.partnerWrite(data) }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }
    func channelInactive(context: ChannelHandlerContext) { partner?.context?.close(promise: nil) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if let partnerContext = partner?.context, partnerContext.channel.isWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func partnerWrite(_ data: NIOAny) {
        guard let context, context.channel.isActive else {
            early.append(data)
            return
        }
        context.write(data, promise: nil)
        needsFlush = true
    }

    private func partnerFlush() {
        guard needsFlush else { return }
        needsFlush = false
        context?.flush()
    }

    private func partnerBecameWritable() {
        guard pendingRead else { return }
        pendingRead = false
        context?.read()
    }
}

/// `nio-relay LISTEN_PORT UPSTREAM_PORT [THREADS]`: relays every connection to 127.0.0.1:UPSTREAM_PORT.
@main struct NIORelay {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let listen = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
            print("usage: nio-relay LISTEN_PORT UPSTREAM_PORT [THREADS]")
            return
        }
        let threads = arguments.count > 3 ? Int(arguments[3]) ?? System.coreCount : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let upstream = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let client = Glue()
                let app = Glue()
                client.partner = app
                app.partner = client
                let clientBound = NIOLoopBound(client, eventLoop: channel.eventLoop)
                let appBound = NIOLoopBound(app, eventLoop: channel.eventLoop)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(clientBound.value)
                }.flatMap {
                    ClientBootstrap(group: channel.eventLoop)
                        .channelInitializer { upstreamChannel in
                            upstreamChannel.eventLoop.makeCompletedFuture {
                                try upstreamChannel.pipeline.syncOperations.addHandler(appBound.value)
                            }
                        }
                        .connect(to: upstream)
                        .map { _ in () }
                }
            }
            .bind(host: "127.0.0.1", port: listen).wait()
        try server.closeFuture.wait()
    }
}
