import NIOCore
import NIOPosix

/// The first handler of the listening socket's pipeline: a connection from a banned or denied peer (under
/// `--ban-response close`) is reset on its own event loop before it is registered, given handlers or tracked for
/// graceful shutdown; the rest go on to the bootstrap, which sets them up. About half of what turning a connection
/// away cost was that setup.
final class BannedPeerFilter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let clientGuard: ClientGuard
    private let identity: ClientIdentity

    init(clientGuard: ClientGuard, identity: ClientIdentity) {
        self.clientGuard = clientGuard
        self.identity = identity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = Self.unwrapInboundIn(data)
        guard let peer = accepted.remoteAddress.flatMap(IPAddress.init(socketAddress:)),
            !identity.isTrusted(peer), clientGuard.refusesAtAccept(peer)
        else {
            context.fireChannelRead(data)
            return
        }
        accepted.eventLoop.execute {
            // SO_LINGER 0: close() sends RST and frees the socket at once (no TIME_WAIT on feisty's side).
            _ = (accepted as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            accepted.close(promise: nil)
        }
    }
}
