#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(CNIOLinux)
    // NIO's C shim re-exports the socket structs; a release (whole-module) build resolves sockaddr_in's members to
    // its copy, which MemberImportVisibility then wants imported by name.
    import CNIOLinux
#endif
import NIOCore
import NIOPosix
import Synchronization

/// The two blocking name lookups the client lists need, as values so tests can substitute them.
///
/// Both functions block (they may wait for a DNS server for seconds): ``ClientListsResolver`` calls them on a
/// dedicated thread pool, never on an event loop or the cooperative pool.
public struct DNSLookup: Sendable {
    /// The addresses a host name resolves to (A and AAAA records, `/etc/hosts`), as `getaddrinfo` gives them.
    public var forward: @Sendable (String) -> Result<[IPAddress], DNSLookupError>
    /// The name an address resolves back to (its PTR record), or `nil` when it has none.
    public var reverse: @Sendable (IPAddress) -> String?

    /// A lookup made of the given functions.
    public init(
        forward: @escaping @Sendable (String) -> Result<[IPAddress], DNSLookupError>,
        reverse: @escaping @Sendable (IPAddress) -> String?
    ) {
        self.forward = forward
        self.reverse = reverse
    }

    /// The system's resolver: `getaddrinfo` and `getnameinfo(NI_NAMEREQD)`.
    public static let system = DNSLookup(forward: SystemDNS.addresses(of:), reverse: SystemDNS.name(of:))
}

/// Why a host name did not resolve: `getaddrinfo`'s message.
public struct DNSLookupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `Name or service not known`, `Temporary failure in name resolution`, …
    public let message: String

    /// An error with the given message.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The libc resolver calls (blocking).
enum SystemDNS {
    /// `getaddrinfo(name)`: the distinct addresses, in the resolver's order.
    static func addresses(of name: String) -> Result<[IPAddress], DNSLookupError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0 else { return .failure(DNSLookupError(String(cString: gai_strerror(status)))) }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let info = cursor?.pointee {
            cursor = info.ai_next
            guard let socketAddress = info.ai_addr, let address = address(of: socketAddress, family: info.ai_family)
            else { continue }
            if !addresses.contains(address) { addresses.append(address) }
        }
        return addresses.isEmpty ? .failure(DNSLookupError("no address")) : .success(addresses)
    }

    /// `getnameinfo(address, NI_NAMEREQD)`: the PTR name, or `nil`.
    static func name(of address: IPAddress) -> String? {
        var host = [CChar](repeating: 0, count: 1025)  // NI_MAXHOST
        let status: Int32
        if address.isIPv4 {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_addr.s_addr = UInt32(truncatingIfNeeded: address.bits).bigEndian
            status = withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    getnameinfo(
                        raw,
                        socklen_t(MemoryLayout<sockaddr_in>.size),
                        &host,
                        socklen_t(host.count),
                        nil,
                        0,
                        NI_NAMEREQD
                    )
                }
            }
        } else {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { bytes in
                for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: address.bits >> (8 * (15 - index))) }
            }
            status = withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    getnameinfo(
                        raw,
                        socklen_t(MemoryLayout<sockaddr_in6>.size),
                        &host,
                        socklen_t(host.count),
                        nil,
                        0,
                        NI_NAMEREQD
                    )
                }
            }
        }
        guard status == 0 else { return nil }
        let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    private static func address(of socketAddress: UnsafeMutablePointer<sockaddr>, family: Int32) -> IPAddress? {
        switch family {
        case AF_INET:
            let v4 = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
            }
            return IPNetwork(networkBits: 0xffff << 32 | UInt128(v4), prefixLength: 128).network
        case AF_INET6:
            var bits: UInt128 = 0
            socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { bytes in
                    for byte in bytes.prefix(16) { bits = bits << 8 | UInt128(byte) }
                }
            }
            return IPNetwork(networkBits: bits, prefixLength: 128).network
        default:
            return nil
        }
    }
}

/// The threads the blocking lookups run on: feisty's own, so a slow DNS server ties up neither an event loop, nor
/// the cooperative pool, nor NIO's shared blocking pool. Started on first use and never shut down.
enum DNSLookupPool {
    static let shared: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Runs `body` on the pool; `nil` when the calling task is cancelled first (the lookup then finishes unseen).
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
        let waiter = Waiter<T>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiter.continuation.withLock { $0 = continuation }
                if Task.isCancelled {
                    waiter.resume(nil)
                    return
                }
                shared.submit { state in
                    guard case .active = state else {
                        waiter.resume(nil)
                        return
                    }
                    waiter.resume(body())
                }
            }
        } onCancel: {
            waiter.resume(nil)
        }
    }

    /// A continuation resumed at most once, by whichever of the work and the cancellation comes first.
    private final class Waiter<T: Sendable>: Sendable {
        let continuation = Mutex<CheckedContinuation<T?, Never>?>(nil)

        func resume(_ value: T?) {
            let waiting = continuation.withLock { stored in
                defer { stored = nil }
                return stored
            }
            waiting?.resume(returning: value)
        }
    }
}
