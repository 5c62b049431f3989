import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// feisty's public listener: a `Service` that accepts client connections and proxies them to the app through the
/// route gate. Graceful shutdown stops accepting, lets in-flight requests finish for the grace period, then closes
/// whatever is left.
public final class ProxyServer: Service, Sendable {
    private let environment: ProxyEnvironment
    private let group: any EventLoopGroup
    /// Each event loop's routing copy and observers, by event loop.
    private let loops: [ObjectIdentifier: LoopRouting]
    private let logger: Logger
    private let listening: EventLoopPromise<SocketAddress>
    private let children = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// Creates the server (nothing is bound until `run()`).
    /// - Parameters:
    ///   - configuration: Listen address, limits and timeouts.
    ///   - routing: Where the supervisor publishes the route table and the app's address.
    ///   - group: The event loops (default: NIO's shared one-per-core group, or a group of `configuration.threads`
    ///     loops when that differs; such a group lives as long as the process, as the shared one does).
    ///   - logger: Receives the access log (at `info`) and lifecycle messages.
    ///   - makeObservers: More observers of finished exchanges, one set per event loop (each runs on its loop).
    init(
        configuration: ProxyConfiguration,
        routing: RoutingPublisher,
        group: (any EventLoopGroup)? = nil,
        clientGuard: ClientGuard? = nil,
        logger: Logger = Logger(label: "feisty.proxy"),
        makeObservers: (any EventLoop) -> [any ExchangeObserver]
    ) {
        self.environment = ProxyEnvironment(
            configuration: configuration,
            spillDirectory: Self.makeSpillDirectory(configuration: configuration, logger: logger),
            clientGuard: clientGuard
        )
        let group =
            group
            ?? (configuration.threads == System.coreCount
                ? MultiThreadedEventLoopGroup.singleton
                : MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads)))
        self.group = group
        self.logger = logger
        var loops: [ObjectIdentifier: LoopRouting] = [:]
        for eventLoop in group.makeIterator() {
            var observers: [any ExchangeObserver] = []
            if configuration.accessLog { observers.append(AccessLogObserver(logger: logger)) }
            observers.append(contentsOf: makeObservers(eventLoop))
            let loop = LoopRouting(eventLoop: eventLoop, snapshot: routing.current, observers: observers)
            routing.attach(loop)
            loops[ObjectIdentifier(eventLoop)] = loop
        }
        self.loops = loops
        self.listening = group.next().makePromise(of: SocketAddress.self)
    }

    /// Creates the server (nothing is bound until `run()`); every exchange is access-logged when the configuration
    /// says so.
    public convenience init(
        configuration: ProxyConfiguration,
        routing: RoutingPublisher,
        group: (any EventLoopGroup)? = nil,
        clientGuard: ClientGuard? = nil,
        logger: Logger = Logger(label: "feisty.proxy")
    ) {
        self.init(
            configuration: configuration,
            routing: routing,
            group: group,
            clientGuard: clientGuard,
            logger: logger
        ) { _ in [] }
    }

    /// The client connections open now (for metrics and the status page).
    public var openConnections: Int { children.withLock { $0.count } }

    /// How full the app's slots and their queue are (`nil` without `--app-concurrency`).
    public var admissionCounts: AdmissionCounts? { environment.appAdmission?.counts }

    /// The bound address once the server listens (the way to learn the port after listening on port 0).
    /// - Throws: The bind error when `run()` could not listen.
    public func listeningAddress() async throws -> SocketAddress {
        try await listening.futureResult.get()
    }

    /// Listens and serves until the server channel closes or graceful shutdown completes.
    /// - Throws: `ProxyError.bindFailed` when the address cannot be bound.
    public func run() async throws {
        let configuration = environment.configuration
        let quiescing = ServerQuiescingHelper(group: group)
        let environment = self.environment
        let serverChannel: any Channel
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // Banned peers go before anything tracks or sets up their connection.
                        if let clientGuard = environment.clientGuard {
                            try sync.addHandler(
                                BannedPeerFilter(clientGuard: clientGuard, identity: environment.identity)
                            )
                        }
                        try sync.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                    }
                }
                // TCP_NODELAY at IPPROTO_TCP: `.socketOption(.tcp_nodelay)` meant SOL_SOCKET option 1, SO_DEBUG.
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                // `--response-buffer`: what a slow client's answer may hold in memory before it spills to a file.
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(
                        low: max(1, configuration.responseBufferBytes / 2),
                        high: max(1, configuration.responseBufferBytes)
                    )
                )
                .childChannelInitializer { [self] channel in
                    self.track(channel)
                    let loop = self.loops[ObjectIdentifier(channel.eventLoop)]!
                    return channel.eventLoop.makeCompletedFuture {
                        try Self.configure(channel: channel, environment: environment, loop: loop)
                    }
                }
                .bind(host: configuration.listenHost, port: configuration.listenPort)
                .get()
        } catch {
            // `Address already in use`, not NIO's description of the failed syscall.
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            let failure = ProxyError.bindFailed(
                address: "\(configuration.listenHost):\(configuration.listenPort)",
                reason: reason
            )
            listening.fail(failure)
            throw failure
        }
        if let address = serverChannel.localAddress {
            listening.succeed(address)
            logger.info("proxy listening on \(address.displayForm)")
        }
        let grace = configuration.gracePeriod
        let drained = serverChannel.eventLoop.makePromise(of: Void.self)
        let draining = Mutex(false)
        try await withGracefulShutdownHandler {
            try await serverChannel.closeFuture.get()
        } onGracefulShutdown: { [self] in
            logger.info("proxy draining (grace \(grace.nanoseconds / 1_000_000) ms)")
            draining.withLock { $0 = true }
            // Stops accepting, closes idle keep-alive connections, lets in-flight requests end (with
            // `Connection: close`); the promise completes when the last connection closed.
            quiescing.initiateShutdown(promise: drained)
            // Whatever is still open when the grace period ends is closed hard.
            let forceClose = serverChannel.eventLoop.scheduleTask(in: grace) { [self] in
                for channel in children.withLock({ Array($0.values) }) { channel.close(promise: nil) }
            }
            drained.futureResult.whenComplete { _ in forceClose.cancel() }
        }
        // The server channel closes first during a drain: wait for the connections too.
        if draining.withLock({ $0 }) {
            try? await drained.futureResult.get()
        } else {
            drained.succeed()
        }
        for channel in children.withLock({ Array($0.values) }) { channel.close(promise: nil) }
        if let directory = environment.spillDirectory { rmdir(directory) }
    }

    /// A private directory (mode 0700) for spilled answers, or `nil` (no spilling) when it cannot be created.
    private static func makeSpillDirectory(configuration: ProxyConfiguration, logger: Logger) -> String? {
        guard configuration.responseSpillBytes > 0 else { return nil }
        var template = Array("\(configuration.spillParentDirectory)/feisty-spill-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            logger.warning(
                "cannot create a response spill directory in \(configuration.spillParentDirectory): answers to slow clients stay in memory",
                metadata: ["reason": "\(String(cString: strerror(errno)))"]
            )
            return nil
        }
        return String(cString: made)
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        children.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = children.withLock { $0.removeValue(forKey: id) }
        }
    }

    /// Builds one client connection's pipeline: edge, HTTP server codec (no pipelining assistance, no NIO error
    /// handler: feisty holds pipelined requests and maps parser errors itself), downstream handler. A connection the
    /// guard turns away (a banned peer) gets only a `TurnAwayHandler`.
    static func configure(channel: any Channel, environment: ProxyEnvironment, loop: LoopRouting) throws {
        if let clientGuard = environment.clientGuard {
            let peer = channel.remoteAddress.flatMap(IPAddress.init(socketAddress:))
            let trusted = environment.identity.isTrusted(peer)
            guard clientGuard.judge(connectionFrom: peer, peerTrusted: trusted) == .serve else {
                try channel.pipeline.syncOperations.addHandler(TurnAwayHandler())
                return
            }
            if let peer, clientGuard.countsConnections(of: peer, peerTrusted: trusted) {
                channel.closeFuture.whenComplete { _ in clientGuard.connectionClosed(peer: peer) }
            }
        }
        let edge = ConnectionEdgeHandler()
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(edge)
        try addHTTPCodec(to: sync, position: .last, environment: environment)
        try sync.addHandler(DownstreamHandler(environment: environment, loop: loop, edge: edge))
    }

    /// Adds the HTTP server codec (a paired encoder and decoder) at `position`.
    ///
    /// No outbound header validation: every response field comes from NIO's parser (which rejects CR, LF and NUL in
    /// names and values) or from feisty's fixed names, so re-scanning each field per response is waste. No
    /// pipelining assistance: `HTTPServerPipelineHandler` stops reading the client after every request (two
    /// epoll_ctl calls per request, ~4 us); the downstream handler holds pipelined requests itself and stops reading
    /// only when one actually arrives early. An upgrade configuration without upgraders: it is the public way to a
    /// decoder that hands over the bytes after an upgrade request when it is removed (`.forwardBytes`), which a
    /// WebSocket tunnel and the parser replacement after an ignored upgrade both need; its handler leaves the
    /// pipeline at the first request.
    /// Replaces the codec whose parser stopped after an upgrade request that did not become a tunnel: a fresh pair
    /// goes after the old decoder, the old encoder leaves now, the old decoder at the end of this event-loop turn,
    /// handing the bytes it holds (a pipelined request) to the new one.
    static func replaceHTTPCodec(
        in sync: ChannelPipeline.SynchronousOperations,
        environment: ProxyEnvironment
    ) throws {
        let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        let encoder = try sync.handler(type: HTTPResponseEncoder.self)
        try addHTTPCodec(to: sync, position: .after(decoder), environment: environment)
        sync.removeHandler(encoder, promise: nil)
        sync.removeHandler(decoder, promise: nil)
    }

    static func addHTTPCodec(
        to sync: ChannelPipeline.SynchronousOperations,
        position: ChannelPipeline.SynchronousOperations.Position,
        environment: ProxyEnvironment
    ) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = environment.configuration.maxHeaderBytes
        limits.maxHeaderFieldSize = environment.configuration.maxHeaderBytes
        try sync.configureHTTPServerPipeline(
            position: position,
            withPipeliningAssistance: false,
            withServerUpgrade: (upgraders: [], completionHandler: { _ in }),
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits
        )
    }
}
