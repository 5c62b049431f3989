#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal client of the admin listener (`feisty status`): one request, one answer, over TCP or a Unix socket
/// (URLSession on Linux cannot do Unix sockets).
public enum AdminClient {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// An answer: its status code and body.
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    /// Sends one request and reads the whole answer.
    /// - Throws: `AdminError.notRunning` when nothing answers at `address` in time.
    public static func request(
        _ path: String,
        method: String = "GET",
        at address: AdminAddress,
        token: String? = nil,
        body: [UInt8] = [],
        timeout: Duration = .seconds(5)
    ) async throws(AdminError) -> Answer {
        do {
            return try await withThrowingTaskGroup(of: Answer?.self) { group in
                group.addTask {
                    try await exchange(HTTPMethod(rawValue: method), path, at: address, token: token, body: body)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() ?? nil else { throw AdminError.notRunning(address.url) }
                return answer
            }
        } catch let error as AdminError {
            throw error
        } catch {
            throw .notRunning(address.url)
        }
    }

    private static func exchange(
        _ method: HTTPMethod,
        _ path: String,
        at address: AdminAddress,
        token: String?,
        body: [UInt8]
    ) async throws -> Answer {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(3))
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        let connection: Connection
        switch address {
        case .tcp(let host, let port):
            connection = try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        case .unix(let path):
            connection = try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
        }
        return try await connection.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "feisty")
            headers.add(name: "Connection", value: "close")
            headers.add(name: "Content-Length", value: "\(body.count)")
            if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
            try await outbound.write(
                .head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))
            )
            if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await outbound.write(.end(nil))
            var answer = Answer(status: 0, body: [])
            for try await part in inbound {
                switch part {
                case .head(let head): answer.status = Int(head.status.code)
                case .body(let buffer): answer.body += buffer.readableBytesView
                case .end: return answer
                }
            }
            throw AdminError.badAnswer("the connection closed before the answer ended")
        }
    }

    /// Whether something accepts connections on the Unix socket at `path` (a plain blocking connect: used before
    /// binding, to avoid taking over a live feisty's socket).
    public static func answers(unixSocket path: String) -> Bool {
        guard let address = try? SocketAddress(unixDomainSocketPath: path) else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return address.withSockAddr { pointer, size in connect(descriptor, pointer, socklen_t(size)) == 0 }
    }
}
