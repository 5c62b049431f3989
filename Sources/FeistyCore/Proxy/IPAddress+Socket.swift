import Glibc
#if canImport(CNIOLinux)
    // NIO's C shim re-exports the socket structs; a release (whole-module) build resolves sockaddr_in's members to
    // its copy, which MemberImportVisibility then wants imported by name.
    import CNIOLinux
#endif
import NIOCore

extension IPAddress {
    /// The address of a socket peer, read from its bytes rather than printed and parsed (this runs per accepted
    /// connection); `nil` for a Unix socket peer.
    public init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4:
            let raw = socketAddress.withSockAddr { pointer, _ in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            }
            self.init(bits: 0xffff << 32 | UInt128(UInt32(bigEndian: raw)))
        case .v6:
            let bits = socketAddress.withSockAddr { pointer, _ in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    withUnsafeBytes(of: address.pointee.sin6_addr) { raw in
                        raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
                    }
                }
            }
            self.init(bits: bits)
        case .unixDomainSocket:
            return nil
        }
    }
}
