/// What strikes and bans are keyed by: an IPv4 address, or the IPv6 network an address lies in (its `/64` by
/// default, `--ipv6-prefix`), since one IPv6 host usually owns a whole /64 and can pick a new address per request.
public struct ClientKey: Sendable, Hashable, CustomStringConvertible {
    /// The address (IPv4) or the masked network (IPv6) this key stands for.
    public let network: IPNetwork

    /// The IPv6 prefix used when `--ipv6-prefix` is not given.
    public static let defaultIPv6Prefix = 64

    /// The key of a client address as the proxy computes it (`ExchangeRecord.client`).
    /// - Parameters:
    ///   - client: An address text (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`); IPv4-mapped IPv6 is IPv4.
    ///   - ipv6Prefix: The IPv6 prefix length, 1...128.
    /// - Returns: `nil` when `client` is not an IP address (a Unix socket peer, a host name in a log).
    public init?(client: String, ipv6Prefix: Int = ClientKey.defaultIPv6Prefix) {
        var text = Substring(client)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        guard let address = IPAddress(text) else { return nil }
        let prefix = address.isIPv4 ? 32 : min(max(ipv6Prefix, 1), 128)
        guard let network = try? IPNetwork(parsing: "\(address)/\(prefix)") else { return nil }
        self.network = network
    }

    /// The key of a client address the proxy parsed already.
    public init(address: IPAddress, ipv6Prefix: Int = ClientKey.defaultIPv6Prefix) {
        network = BanKey(client: address, ipv6PrefixLength: min(max(ipv6Prefix, 1), 128)).network
    }

    /// The client a ban key stands for (an automatic ban's key: an IPv4 address or an IPv6 network).
    public init(banKey: BanKey) { network = banKey.network }

    /// The ban that covers exactly this client.
    public var banKey: BanKey { BanKey(network: network) }

    /// `192.0.2.1` for IPv4, `2001:db8:0:0:0:0:0:0/64` for IPv6 (the whole network is one client).
    public var description: String {
        network.network.isIPv4 ? network.network.description : network.description
    }
}
