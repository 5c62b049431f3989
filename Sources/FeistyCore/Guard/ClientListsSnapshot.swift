/// The allow, deny and priority lists as the proxy reads them on every connection: immutable, lock-free to query.
///
/// Addresses, CIDR blocks and the current addresses of host names sit in one hash table per prefix length, so a
/// lookup costs one hash probe per distinct prefix length in the lists (not a scan of the entries) and allocates
/// nothing. Reverse patterns (`*.googlebot.com`) count only for addresses ``ClientListsResolver`` has checked:
/// until then ``membership(of:)`` leaves them out and ``needsReverseCheck(_:)`` is `true`.
public final class ClientListsSnapshot: Sendable {
    /// The lists' networks, each with the membership it grants.
    let table: NetworkTable
    /// The addresses whose PTR name was checked, with what their reverse patterns grant (empty: no match).
    let reverseResults: [UInt128: ClientListMembership]
    /// Whether the lists have reverse patterns at all.
    public let checksReverseNames: Bool

    /// A snapshot with nothing on any list.
    public static let empty = ClientListsSnapshot(
        table: NetworkTable([]),
        reverseResults: [:],
        checksReverseNames: false
    )

    init(table: NetworkTable, reverseResults: [UInt128: ClientListMembership], checksReverseNames: Bool) {
        self.table = table
        self.reverseResults = reverseResults
        self.checksReverseNames = checksReverseNames
    }

    /// A snapshot of `lists` with the given resolutions (mostly for tests: the proxy gets its snapshots from
    /// ``ClientListsResolver/current``).
    /// - Parameters:
    ///   - lists: The parsed lists.
    ///   - hostAddresses: What each host name of the lists resolves to; a name missing here matches nothing.
    ///   - reverseResults: Addresses already checked against the reverse patterns, with what they were granted.
    public convenience init(
        lists: AddressLists,
        hostAddresses: [String: [IPAddress]] = [:],
        reverseResults: [IPAddress: ClientListMembership] = [:]
    ) {
        var results: [UInt128: ClientListMembership] = [:]
        for (address, membership) in reverseResults { results[address.bits] = membership }
        self.init(
            table: NetworkTable(lists: lists, hostAddresses: hostAddresses),
            reverseResults: results,
            checksReverseNames: lists.hasReversePatterns
        )
    }

    /// The lists `address` is on; `.allowed` and `.denied` never come together (deny wins).
    ///
    /// A reverse pattern counts only once the address was checked (see ``needsReverseCheck(_:)``).
    public func membership(of address: IPAddress) -> ClientListMembership {
        var membership = table.membership(of: address.bits)
        if checksReverseNames, let granted = reverseResults[address.bits] { membership.formUnion(granted) }
        return membership.resolvingPrecedence
    }

    /// Whether the lists have reverse patterns and `address` has not been checked against them yet (or its result
    /// expired): the caller should pass it to ``ClientListsResolver/noteClient(_:)``.
    public func needsReverseCheck(_ address: IPAddress) -> Bool {
        checksReverseNames && reverseResults[address.bits] == nil
    }
}

/// Networks with memberships, one hash table per prefix length.
struct NetworkTable: Sendable {
    struct Level: Sendable {
        let mask: UInt128
        let members: [UInt128: ClientListMembership]
    }

    /// One level per distinct prefix length, longest first.
    let levels: [Level]

    init(_ networks: [(IPNetwork, ClientListMembership)]) {
        var byLength: [Int: [UInt128: ClientListMembership]] = [:]
        for (network, membership) in networks {
            byLength[network.prefixLength, default: [:]][network.network.bits, default: []].formUnion(membership)
        }
        levels = byLength.sorted { $0.key > $1.key }.map { length, members in
            Level(mask: length == 0 ? 0 : ~UInt128(0) << (128 - length), members: members)
        }
    }

    /// The networks of `lists`, host names replaced by the addresses they resolve to; reverse patterns left out.
    init(lists: AddressLists, hostAddresses: [String: [IPAddress]]) {
        var networks: [(IPNetwork, ClientListMembership)] = []
        for (kind, entries) in lists.kinds {
            for entry in entries {
                switch entry {
                case .network(let network):
                    networks.append((network, kind))
                case .hostName(let name):
                    for address in hostAddresses[name] ?? [] {
                        networks.append((IPNetwork(networkBits: address.bits, prefixLength: 128), kind))
                    }
                case .reverse:
                    break
                }
            }
        }
        self.init(networks)
    }

    func membership(of bits: UInt128) -> ClientListMembership {
        var membership: ClientListMembership = []
        for level in levels {
            if let found = level.members[bits & level.mask] { membership.formUnion(found) }
        }
        return membership
    }
}
