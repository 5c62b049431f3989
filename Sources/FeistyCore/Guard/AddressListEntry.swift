/// One entry of `--allow`, `--deny` or `--priority` (or of an `@file` list one of them names).
public enum AddressListEntry: Sendable, Hashable, CustomStringConvertible {
    /// An address (`192.0.2.7`, `2001:db8::1`) or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`); an address is a
    /// full-length block. IPv4-mapped IPv6 (`::ffff:192.0.2.7`) is the IPv4 address.
    case network(IPNetwork)
    /// A host name (`api.example.com`, lower case, no trailing dot): the addresses it resolves to (A and AAAA), at
    /// start and every `--dns-refresh`.
    case hostName(String)
    /// A reverse-DNS pattern (`*.googlebot.com`): clients whose forward-confirmed PTR name lies under it.
    case reverse(ReversePattern)

    /// Parses one entry (surrounding white space ignored); an `@file` is not an entry (see ``AddressLists``).
    /// - Returns: `nil` when `text` is not an address, CIDR, host name or `*.pattern`.
    public init?(parsing text: some StringProtocol) {
        let trimmed = Substring(text).trimmingASCIISpaces()
        guard !trimmed.isEmpty else { return nil }
        if let network = try? IPNetwork(parsing: String(trimmed)) {
            self = .network(network)
        } else if trimmed.contains("/") || trimmed.contains(":") {
            return nil
        } else if trimmed.hasPrefix("*") || trimmed.hasPrefix(".") {
            guard let pattern = ReversePattern(parsing: trimmed) else { return nil }
            self = .reverse(pattern)
        } else if let name = HostNameSyntax.normalized(trimmed) {
            self = .hostName(name)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .network(let network):
            network.prefixLength == 128 ? network.network.description : network.description
        case .hostName(let name): name
        case .reverse(let pattern): pattern.description
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmingASCIISpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
