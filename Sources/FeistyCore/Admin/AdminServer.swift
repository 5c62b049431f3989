#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A bound admin listener: bound before anything else starts (a taken address is one error and no app started),
/// answering once ``AdminServer`` gives it its responder (503 until then).
public struct AdminListener: Sendable {
    /// Where it listens.
    public let address: AdminAddress
    let channel: any Channel
    let responder: AdminResponderSlot
}

/// The admin listener as a service: a small HTTP/1.1 server of its own (not the proxy's pipeline) on a loopback
/// port or a Unix socket, answering through an ``AdminResponder`` until graceful shutdown; it then closes and
/// removes its Unix socket.
public final class AdminServer: Service, Sendable {
    private let listener: AdminListener

    /// Creates the server over a bound listener, which answers from now on.
    public init(listener: AdminListener, responder: AdminResponder) {
        self.listener = listener
        listener.responder.set(responder)
    }

    /// Binds `address` and says where the admin API is.
    /// - Throws: `AdminError.cannotBind`.
    public static func bind(_ address: AdminAddress, logger: Logger) async throws(AdminError) -> AdminListener {
        let slot = AdminResponderSlot()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(responder: slot))
                }
            }
        let channel: any Channel
        do {
            switch address {
            case .tcp(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                channel = try await bindPrivately(path) {
                    try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                }
            }
        } catch let error as AdminError {
            throw error
        } catch {
            throw .cannotBind(address.description, reason: "\(error)")
        }
        logger.notice("admin on \(address.url)")
        return AdminListener(address: address, channel: channel, responder: slot)
    }

    /// A Unix socket is created with mode 0600 (umask while binding, then chmod): its file mode is what guards
    /// control. A live socket at the path (another feisty) is not taken over.
    private static func bindPrivately<T>(_ path: String, _ bind: () async throws -> T) async throws -> T {
        if FileManager.default.fileExists(atPath: path), AdminClient.answers(unixSocket: path) {
            throw AdminError.cannotBind("unix:\(path)", reason: "another process listens there")
        }
        let previous = umask(0o177)
        defer { umask(previous) }
        let result = try await bind()
        chmod(path, 0o600)
        return result
    }

    /// Serves until graceful shutdown (or cancellation), then stops listening.
    public func run() async throws {
        try? await gracefulShutdown()
        try? await listener.channel.close()
        if case .unix(let path) = listener.address { unlink(path) }
    }
}
