import NIOCore
import NIOHTTP1
import Synchronization

/// Where a bound listener finds its responder (set once the rest of feisty is set up).
final class AdminResponderSlot: Sendable {
    private let responder = Mutex<AdminResponder?>(nil)

    func set(_ responder: AdminResponder) { self.responder.withLock { $0 = responder } }

    var current: AdminResponder? { responder.withLock { $0 } }
}

/// One admin connection's mechanics: collects a request (its body bounded: 413 and close beyond), answers it through
/// the responder off the event loop, writes the answer. `configureHTTPServerPipeline` serializes pipelined requests.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: AdminResponderSlot
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The request was answered 413 and the connection is closing: the rest of it is ignored.
    private var discarding = false

    init(responder: AdminResponderSlot) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding else { return }
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
            body = []
            let declared = received.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > AdminRequest.maximumBodyBytes { refuseTooLarge(received, context: context) }
        case .body(let buffer):
            guard let received = head else { return }
            if body.count + buffer.readableBytes > AdminRequest.maximumBodyBytes {
                refuseTooLarge(received, context: context)
            } else {
                body += buffer.readableBytesView
            }
        case .end:
            guard let received = head else { return }
            head = nil
            let request = AdminRequest(
                method: received.method.rawValue,
                target: received.uri,
                authorization: received.headers.first(name: "authorization"),
                body: body
            )
            body = []
            let slot = responder
            let promise = context.eventLoop.makePromise(of: AdminResponse.self)
            promise.completeWithTask {
                guard let responder = slot.current else { return .text(503, "starting\n") }
                return await responder.respond(to: request)
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(response, for: received, close: !received.isKeepAlive, context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuseTooLarge(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        discarding = true
        write(.text(413, "body too large\n"), for: request, close: true, context: context)
    }

    private func write(
        _ response: AdminResponse,
        for request: HTTPRequestHead,
        close: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        if close { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: request.version,
            status: HTTPResponseStatus(statusCode: response.status),
            headers: headers
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD, !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
