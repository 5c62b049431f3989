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

    /// Per prefix length (most specific first), the banned networks of that length.
    final class Layer: Sendable {
        let tables: [(length: Int, mask: UInt128, entries: [UInt128: Entry])]
        let count: Int

        init(entries: [Entry]) {
            var byLength: [Int: [UInt128: Entry]] = [:]
            for entry in entries {
                let network = entry.key.network
                let previous = byLength[network.prefixLength]?[network.network.bits]
                if let previous, previous.until >= entry.until { continue }
                byLength[network.prefixLength, default: [:]][network.network.bits] = entry
            }
            tables = byLength.sorted { $0.key > $1.key }.map {
                (length: $0.key, mask: IPNetwork.mask($0.key), entries: $0.value)
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
        for table in layer.tables {
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
