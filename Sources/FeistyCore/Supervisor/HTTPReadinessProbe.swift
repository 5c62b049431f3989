import NIOCore
import NIOHTTP1
import NIOPosix

/// Asks the app one HTTP question to learn whether it serves: `GET path` on its internal address, where `path` is a
/// declared parameterless GET route (or `--health-path`), so the app logs no 404 for it.
///
/// Any response head counts (a 500 still means a worker is free to answer). The app does see (and log) the request.
enum HTTPReadinessProbe {
    /// Sends `GET path` and waits for a response head.
    /// - Parameters:
    ///   - address: The app's internal address.
    ///   - path: The path asked for.
    ///   - timeout: How long to wait for the connection and the response head.
    /// - Returns: Whether a response head arrived in time.
    static func answers(_ address: AppAddress, path: String = "/", timeout: Duration = .seconds(1)) async -> Bool {
        do {
            let target = try address.socketAddress()
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(timeout / .milliseconds(1))))
                .connect(to: target) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
            return try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await channel.executeThenClose { inbound, outbound in
                        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                        head.headers.add(name: "Host", value: "localhost")
                        head.headers.add(name: "User-Agent", value: "feisty-probe")
                        head.headers.add(name: "Connection", value: "close")
                        try await outbound.write(.head(head))
                        try await outbound.write(.end(nil))
                        for try await part in inbound {
                            if case .head = part { return true }
                        }
                        return false
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    // A server that accepted but never answers: close so the reader above ends.
                    try? await channel.channel.close()
                    return false
                }
                let answered = try await group.next() ?? false
                group.cancelAll()
                return answered
            }
        } catch {
            return false
        }
    }
}
