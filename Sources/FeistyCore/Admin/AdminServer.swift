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

/// A bound admin listener, not serving yet: bound before anything else starts (a taken address is one error and no
/// app started), served once the rest of feisty is set up. It must be served (or closed through its channel's
/// `executeThenClose`): NIO traps when an unused async channel is released.
public struct AdminListener: Sendable {
    /// Where it listens.
    public let address: AdminAddress
    let channel: NIOAsyncChannel<AdminServer.Connection, Never>
}

/// The admin listener: a small HTTP/1.1 server of its own (not the proxy's pipeline) on a loopback port or a Unix
/// socket, answering through an ``AdminResponder`` until graceful shutdown; it removes its Unix socket at exit.
public final class AdminServer: Service, Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let listener: AdminListener
    private let responder: AdminResponder

    /// Creates the server over a bound listener.
    public init(listener: AdminListener, responder: AdminResponder) {
        self.listener = listener
        self.responder = responder
    }

    /// Binds `address` and says where the admin API is.
    /// - Throws: `AdminError.cannotBind`.
    public static func bind(_ address: AdminAddress, logger: Logger) async throws(AdminError) -> AdminListener {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        let channel: NIOAsyncChannel<Connection, Never>
        do {
            switch address {
            case .tcp(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
            case .unix(let path):
                channel = try await bindPrivately(path) {
                    try await bootstrap.bind(
                        unixDomainSocketPath: path,
                        cleanupExistingSocketFile: true,
                        childChannelInitializer: initializer
                    )
                }
            }
        } catch let error as AdminError {
            throw error
        } catch {
            throw .cannotBind(address.description, reason: "\(error)")
        }
        logger.notice("admin on \(address.url)")
        return AdminListener(address: address, channel: channel)
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

    /// Serves until graceful shutdown.
    public func run() async throws {
        defer {
            if case .unix(let path) = listener.address { unlink(path) }
        }
        try await listener.channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound.cancelOnGracefulShutdown() {
                    group.addTask { [self] in await serve(connection) }
                }
                group.cancelAll()
            }
        }
    }

    private func serve(_ connection: Connection) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            var tooLarge = false
            for try await part in inbound {
                switch part {
                case .head(let received):
                    head = received
                    body = []
                    let declared = received.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
                    tooLarge = declared > AdminRequest.maximumBodyBytes
                    if tooLarge {
                        try await write(.text(413, "body too large\n"), head: received, to: outbound, close: true)
                        return
                    }
                case .body(let buffer):
                    if body.count + buffer.readableBytes > AdminRequest.maximumBodyBytes {
                        tooLarge = true
                    } else if !tooLarge {
                        body += buffer.readableBytesView
                    }
                case .end:
                    guard let received = head else { return }
                    let keepAlive = received.isKeepAlive && !tooLarge
                    let response: AdminResponse
                    if tooLarge {
                        response = .text(413, "body too large\n")
                    } else {
                        let request = AdminRequest(
                            method: received.method.rawValue,
                            target: received.uri,
                            authorization: received.headers.first(name: "authorization"),
                            body: body
                        )
                        response = await responder.respond(to: request)
                    }
                    try await write(response, head: received, to: outbound, close: !keepAlive)
                    if !keepAlive { return }
                    head = nil
                }
            }
        }
    }

    private func write(
        _ response: AdminResponse,
        head request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        close: Bool
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        if close { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        if request.method != .HEAD, !response.body.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        try await outbound.write(.end(nil))
    }
}
