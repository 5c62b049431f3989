import Foundation
import NIOCore
import NIOPosix

#if canImport(CFeistyCapabilities) && os(Linux)
    import CFeistyCapabilities
#endif

/// The one thread that keeps `CAP_NET_ADMIN` when `--user` gives root up with `--ban-action nftables`: `nft` is
/// started from it and from no other thread.
///
/// Capabilities belong to a thread, and a child process starts with the credentials of the thread that forked it.
/// glibc's `setuid` reaches every thread, and each thread whose user IDs leave 0 loses its capabilities, except one
/// that asked to keep them (`PR_SET_KEEPCAPS`): this thread alone does, then narrows them to `CAP_NET_ADMIN` (also
/// ambient, so the `nft` it starts holds it). Every other thread, and so the app feisty launches, holds none.
/// swift-subprocess forks from a worker thread of its own, so ``runCapturing(_:input:limit:)`` spawns here itself.
public final class NetAdminThread: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    /// The thread's kernel ID (its name in `/proc/self/task`).
    public let threadID: Int32

    /// Starts the thread (it lives as long as feisty).
    public init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        #if canImport(CFeistyCapabilities) && os(Linux)
            threadID = (try? loop.submit { feisty_thread_id() }.wait()) ?? -1
        #else
            threadID = -1
        #endif
    }

    /// Runs `body` on the thread and returns what it returned (blocking the caller, which must not be this thread).
    public func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) -> Value {
        // The loop never shuts down (its group lives as long as this object), so the future cannot fail.
        try! loop.submit(body).wait()
    }

    /// What a program run from the thread left.
    public struct Captured: Sendable {
        /// How it ended (`waitpid`'s status).
        public var status: Int32
        /// Its standard output, up to the limit.
        public var output: String
        /// Its standard error, up to the limit.
        public var error: String

        /// Whether it exited with status 0.
        public var succeeded: Bool { status & 0x7f == 0 && (status >> 8) & 0xff == 0 }
    }

    /// Runs `arguments` (the first looked up in `PATH`) from the thread with `input` on its standard input, so that
    /// it starts with the thread's capabilities; waits for it without blocking the caller.
    /// - Throws: ``PrivilegeError`` when it cannot be started.
    public func runCapturing(_ arguments: [String], input: String, limit: Int) async throws -> Captured {
        #if canImport(CFeistyCapabilities) && os(Linux)
            try await loop.submit { () throws -> Captured in
                var argv = arguments.map { strdup($0) }
                argv.append(nil)
                defer { for pointer in argv { free(pointer) } }
                var captured = feisty_captured()
                let bytes = Array(input.utf8)
                let code = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { input in
                        feisty_run_capturing(&argv, input.baseAddress, input.count, limit, &captured)
                    }
                }
                guard code == 0 else {
                    throw PrivilegeError("cannot run \(arguments[0]): \(String(cString: strerror(errno)))")
                }
                defer { feisty_free_captured(&captured) }
                func text(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> String {
                    guard let pointer else { return "" }
                    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
                }
                return Captured(
                    status: captured.status,
                    output: text(captured.output, captured.output_length),
                    error: text(captured.error, captured.error_length)
                )
            }.get()
        #else
            throw PrivilegeError("running a program with CAP_NET_ADMIN needs Linux")
        #endif
    }
}
