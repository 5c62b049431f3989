import NIOCore
import NIOPosix

/// The whole pipeline of a connection the guard turned away at accept (a banned or denied peer, one over
/// `--max-conns-per-client`): it closes the connection as soon as it is active, before a byte is read, with a reset
/// rather than a FIN, so a flood of refused connections leaves no `TIME_WAIT` sockets behind on feisty's side.
final class TurnAwayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        // SO_LINGER with a zero timeout: close() sends RST and frees the socket at once. The option is set
        // synchronously on the event loop, so it is in force before the close below.
        _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
