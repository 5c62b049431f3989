import Foundation

/// The bans in force, frozen for the hot path: whether an address is banned is one hash lookup per prefix length in
/// use (a `/32` or `/64` for automatic bans, whatever blocks people added by hand), with no lock and no allocation.
///
/// Built off the hot path from the store's active bans; an expired ban stays in the list until the next build but no
/// longer counts (its end is compared with the clock on a hit). A ban decided while feisty runs is added without
/// rebuilding the whole list: it goes into a small layer over the loaded one (shared, not copied), merged into it
/// once that layer has `overlayLimit` entries, so a million loaded bans do not make each new ban cost a rebuild.
public final class BanList: Sendable {
    /// What a lookup needs of a ban: its key and its end (seconds since 1970; infinity for forever).
    public struct Entry: Sendable, Hashable {
        /// The banned block.
        public let key: BanKey
        /// The end, seconds since 1970 (`.infinity`: forever).
        public let until: Double

        /// Whether the ban holds at `now` (seconds since 1970).
        public func holds(at now: Double) -> Bool { now < until }
    }

    /// Per prefix length (most specific first), the banned networks of that length, and whether any of them can
    /// cover an IPv4(-mapped) address and a non-IPv4 one: a lookup skips the tables of the other family (an IPv4
    /// client never probes the IPv6 /64s, nor an IPv6 client the IPv4 CIDRs).
    final class Layer: Sendable {
        let tables: [(length: Int, mask: UInt128, entries: [UInt128: Entry], v4: Bool, v6: Bool)]
        let count: Int

        init(entries: [Entry]) {
            var byLength: [Int: [UInt128: Entry]] = [:]
            for entry in entries {
                let network = entry.key.network
                let previous = byLength[network.prefixLength]?[network.network.bits]
                if let previous, previous.until >= entry.until { continue }
                byLength[network.prefixLength, default: [:]][network.network.bits] = entry
            }
            let v4Prefix: UInt128 = 0xffff << 32
            tables = byLength.sorted { $0.key > $1.key }.map { length, entries in
                // A block covers IPv4-mapped addresses when its first min(length, 96) bits are those of
                // ::ffff:0:0/96, and others when it is shorter than /96 or lies outside that /96.
                let familyMask = IPNetwork.mask(min(length, 96))
                return (
                    length: length, mask: IPNetwork.mask(length), entries: entries,
                    v4: entries.keys.contains { $0 & familyMask == v4Prefix & familyMask },
                    v6: length < 96 || entries.keys.contains { $0 >> 32 != 0xffff }
                )
            }
            count = tables.reduce(0) { $0 + $1.entries.count }
        }

        var entries: [Entry] { tables.flatMap { $0.entries.values } }
    }

    /// How many bans the layer over the loaded list holds before the two are merged.
    static let overlayLimit = 4096

    /// The loaded list, and the bans added since (`nil`: none).
    private let base: Layer
    private let overlay: Layer?

    /// How many bans the list holds (a key in both layers counts twice until they are merged).
    public var count: Int { base.count + (overlay?.count ?? 0) }

    /// The empty list.
    public static let empty = BanList(entries: [])

    /// Builds the list from bans as the store holds them.
    public convenience init(_ bans: [Ban]) {
        self.init(entries: bans.map { Entry(key: $0.key, until: $0.until?.timeIntervalSince1970 ?? .infinity) })
    }

    /// Builds the list from entries; of two entries with one key, the later-ending one counts.
    public convenience init(entries: [Entry]) {
        self.init(base: Layer(entries: entries), overlay: nil)
    }

    private init(base: Layer, overlay: Layer?) {
        self.base = base
        self.overlay = overlay
    }

    /// The ban covering `address` that holds at `now` (seconds since 1970), the most specific one of a layer first.
    public func ban(covering address: IPAddress, at now: Double) -> Entry? {
        if let overlay, let entry = Self.lookup(address, in: overlay, at: now) { return entry }
        return Self.lookup(address, in: base, at: now)
    }

    private static func lookup(_ address: IPAddress, in layer: Layer, at now: Double) -> Entry? {
        let isIPv4 = address.isIPv4
        for table in layer.tables where isIPv4 ? table.v4 : table.v6 {
            if let entry = table.entries[address.bits & table.mask], entry.holds(at: now) { return entry }
        }
        return nil
    }

    /// The ban covering `address` now.
    public func ban(covering address: IPAddress) -> Entry? {
        count == 0 ? nil : ban(covering: address, at: Date().timeIntervalSince1970)
    }

    /// Every entry (for listings and the nftables mirror).
    public var entries: [Entry] { base.entries + (overlay?.entries ?? []) }

    /// This list with `added` put in (bans just made durable): into the small layer, or merged with the loaded list
    /// once that layer is full.
    public func adding(_ added: [Entry]) -> BanList {
        let recent = (overlay?.entries ?? []) + added
        if recent.count >= Self.overlayLimit { return BanList(entries: base.entries + recent) }
        return BanList(base: base, overlay: Layer(entries: recent))
    }
}
