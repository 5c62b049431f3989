/// What a ban applies to: one address or a CIDR block.
///
/// Automatic bans key IPv4 clients by address and IPv6 clients by their prefix (a /64 by default), so a client
/// cannot dodge a ban by moving inside its own network; bans added by hand may be any block. The text form, the
/// primary key of the `bans` table, is canonical: an address alone (`192.0.2.7`), or `NETWORK/LENGTH` with the host
/// bits cleared (`2001:db8:1:2:0:0:0:0/64`), so one block has exactly one row however it was typed.
public struct BanKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The block banned; a single address is a full-length block.
    public let network: IPNetwork

    /// Parses an address or CIDR block with the proxy's own `IPNetwork` parser.
    /// - Throws: `StoreError.invalidKey`.
    public init(parsing text: String) throws(StoreError) {
        do {
            network = try IPNetwork(parsing: text)
        } catch {
            throw .invalidKey(text)
        }
    }

    init(network: IPNetwork) { self.network = network }

    /// The key of a client seen at `address`: the address itself for IPv4, its `/ipv6PrefixLength` for IPv6.
    public init(client address: IPAddress, ipv6PrefixLength: Int = 64) {
        network = IPNetwork(address: address, length: address.isIPv4 ? 32 : ipv6PrefixLength)
    }

    /// Whether this key covers a single address (no `/LENGTH` in its text).
    public var isSingleAddress: Bool { network.prefixLength == 128 }

    /// Whether a client at `address` falls under this ban.
    public func covers(_ address: IPAddress) -> Bool { network.contains(address) }

    public var description: String {
        isSingleAddress ? network.network.description : network.description
    }

    public static func < (lhs: BanKey, rhs: BanKey) -> Bool {
        (lhs.network.network.bits, lhs.network.prefixLength) < (rhs.network.network.bits, rhs.network.prefixLength)
    }
}
