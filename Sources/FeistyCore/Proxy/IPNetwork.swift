#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address as a 128-bit number: IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`) so that a peer
/// seen over an IPv6 socket and the same peer over IPv4 compare equal.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address bits, IPv4 mapped into `::ffff:0:0/96`.
    public let bits: UInt128

    private static let v4MappedPrefix: UInt128 = 0xffff << 32

    /// Whether this is an IPv4 address (or IPv4-mapped IPv6).
    public var isIPv4: Bool { bits >> 32 == 0xffff }

    /// Parses a textual IPv4 or IPv6 address (no brackets, no port, no zone).
    /// - Parameter text: `192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`.
    public init?(_ text: some StringProtocol) {
        var string = String(text)
        if let percent = string.firstIndex(of: "%") { string = String(string[..<percent]) }  // zone id: ignored
        if string.contains(":") {
            var storage = in6_addr()
            guard inet_pton(AF_INET6, string, &storage) == 1 else { return nil }
            var bits: UInt128 = 0
            withUnsafeBytes(of: &storage) { raw in
                for byte in raw { bits = bits << 8 | UInt128(byte) }
            }
            self.bits = bits
        } else {
            var storage = in_addr()
            guard inet_pton(AF_INET, string, &storage) == 1 else { return nil }
            let v4 = UInt32(bigEndian: storage.s_addr)
            self.bits = Self.v4MappedPrefix | UInt128(v4)
        }
    }

    public var description: String {
        if isIPv4 {
            let v = UInt32(truncatingIfNeeded: bits)
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { raw in
            for index in 0..<16 { raw[index] = UInt8(truncatingIfNeeded: bits >> (8 * (15 - index))) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a single address; what `--trusted-proxy` accepts.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let network: IPAddress
    /// The prefix length in the 128-bit space (an IPv4 `/8` is stored as `/104`).
    public let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    /// - Throws: `ProxyError.invalidNetwork`.
    public init(parsing text: String) throws(ProxyError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { throw .invalidNetwork(text) }
        let maxLength = address.isIPv4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maxLength).contains(parsed) else { throw .invalidNetwork(text) }
            length = parsed
        }
        self.prefixLength = address.isIPv4 ? length + 96 : length
        self.network = IPAddress(bits: address.bits & Self.mask(self.prefixLength))
    }

    /// Whether `address` lies inside this block.
    public func contains(_ address: IPAddress) -> Bool {
        address.bits & Self.mask(prefixLength) == network.bits
    }

    public var description: String {
        "\(network)/\(network.isIPv4 ? prefixLength - 96 : prefixLength)"
    }

    private static func mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : ~UInt128(0) << (128 - length)
    }
}

extension IPAddress {
    fileprivate init(bits: UInt128) { self.bits = bits }
}
