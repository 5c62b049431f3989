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

/// Picks free TCP ports on 127.0.0.1 for app instances.
enum LoopbackPort {
    /// Binds 127.0.0.1:0, reads the port the kernel chose, and closes the socket.
    ///
    /// The port is free at return; the app binds it a moment later. Another process could take it in between,
    /// in which case the instance fails to bind and is restarted (or reported) like any startup failure.
    /// - Returns: The port.
    /// - Throws: ``SupervisorError`` when no socket can be bound.
    static func pickFree() throws(SupervisorError) -> Int {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw failure("bind") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw failure("getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func failure(_ call: String) -> SupervisorError {
        SupervisorError(.environment, "cannot pick a free loopback port (\(call): \(String(cString: strerror(errno))))")
    }
}
