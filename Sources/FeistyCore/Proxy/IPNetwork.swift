import Foundation

/// An IP address as a 128-bit number: IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`) so that a peer
/// seen over an IPv6 socket and the same peer over IPv4 compare equal.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address bits, IPv4 mapped into `::ffff:0:0/96`.
    public let bits: UInt128

    private static let v4MappedPrefix: UInt128 = 0xffff << 32

    /// Whether this is an IPv4 address (or IPv4-mapped IPv6).
    public var isIPv4: Bool { bits >> 32 == 0xffff }

    /// Parses a textual IPv4 or IPv6 address (no brackets, no port; a `%zone` suffix is ignored).
    /// - Parameter text: `192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`.
    public init?(_ text: some StringProtocol) {
        var string = Substring(text)
        if let percent = string.firstIndex(of: "%") { string = string[..<percent] }
        if string.contains(":") {
            guard let bits = Self.parseV6(string) else { return nil }
            self.bits = bits
        } else {
            guard let v4 = Self.parseV4(string) else { return nil }
            self.bits = Self.v4MappedPrefix | UInt128(v4)
        }
    }

    private static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func parseV6(_ text: Substring) -> UInt128? {
        // Up to 8 groups; `::` once stands for the missing zero groups; the last 32 bits may be dotted IPv4.
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if index == fields.count - 1, field.contains(".") {
                    guard let v4 = parseV4(field) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xffff))
                } else {
                    guard !field.isEmpty, field.count <= 4, let group = UInt16(field, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        var bits: UInt128 = 0
        for group in all { bits = bits << 16 | UInt128(group) }
        return bits
    }

    public var description: String {
        if isIPv4 {
            let v = UInt32(truncatingIfNeeded: bits)
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        return (0..<8).map { String(UInt16(truncatingIfNeeded: bits >> (16 * (7 - $0))), radix: 16) }
            .joined(separator: ":")
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

    /// The block of `length` bits (IPv4: 0...32, else 0...128) around `address`, without a round trip through text.
    init(address: IPAddress, length: Int) {
        self.prefixLength = address.isIPv4 ? min(max(length, 0), 32) + 96 : min(max(length, 0), 128)
        self.network = IPAddress(bits: address.bits & Self.mask(self.prefixLength))
    }

    /// Whether `address` lies inside this block.
    public func contains(_ address: IPAddress) -> Bool {
        address.bits & Self.mask(prefixLength) == network.bits
    }

    public var description: String {
        "\(network)/\(network.isIPv4 ? prefixLength - 96 : prefixLength)"
    }

    static func mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : ~UInt128(0) << (128 - length)
    }
}

extension IPAddress {
    init(bits: UInt128) { self.bits = bits }
}

extension IPNetwork {
    /// A block from its 128-bit network number and prefix length (as the ban store keeps them); host bits are
    /// cleared, the length clamped to 0...128.
    init(networkBits: UInt128, prefixLength: Int) {
        let length = max(0, min(128, prefixLength))
        self.prefixLength = length
        self.network = IPAddress(bits: networkBits & Self.mask(length))
    }
}
