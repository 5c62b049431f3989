/// The methods the rules list, as bits of a `UInt64` mask (a rule's methods, the methods a path has
/// rules for), plus the sorted `allowed` lists of 405 answers.
struct RouteMethods: Sendable {
    /// Every method listed by a rule, upper-case, in first-listed order: bit `i` is `names[i]`.
    let names: [String]
    let bits: [String: Int]
    /// `names`, each packed by `pack` (0 when longer than 8 bytes, which only the slow lookup finds).
    private let packed: [UInt64]
    /// The sorted `allowed` list for every union of rule method sets, built once so that a 405 costs a
    /// lookup instead of a filter, a sort and several allocations. Unions of more than `cachedUnionLimit`
    /// distinct rule masks are built on demand. Sorted by mask for a binary search (cheaper than
    /// hashing the mask for a dictionary).
    private let allowedMasks: [UInt64]
    private let allowedLists: [[String]]

    static let cachedUnionLimit = 512

    /// Collects the methods of `rules` in table order.
    /// - Throws: `RouteError.malformedRule` past 64 distinct methods (they must fit the mask).
    init(rules: [RouteRule]) throws(RouteError) {
        var names: [String] = []
        var bits: [String: Int] = [:]
        for rule in rules {
            for method in rule.methods ?? [] where bits[method] == nil {
                guard names.count < 64 else {
                    throw .malformedRule(rule: rule.rule, reason: "more than 64 distinct methods")
                }
                bits[method] = names.count
                names.append(method)
            }
        }
        self.names = names
        self.bits = bits
        self.packed = names.map { name in name.utf8.count <= 8 ? Self.pack(name.utf8) : 0 }
        // Closure of the rules' masks under union: the masks a walk's `haveMatchFor` can take.
        var masks = Set<UInt64>()
        for rule in rules {
            let mask = (rule.methods ?? []).reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64(bits[$1]!)) }
            if mask != 0 { masks.insert(mask) }
        }
        var unions = masks
        var frontier = Array(masks)
        while let mask = frontier.popLast(), unions.count < Self.cachedUnionLimit {
            for other in masks where !unions.contains(mask | other) {
                unions.insert(mask | other)
                frontier.append(mask | other)
            }
        }
        self.allowedMasks = unions.sorted()
        self.allowedLists = allowedMasks.map { Self.allowed($0, names: names) }
    }

    /// The request method's bit: 0 when no rule lists it (`str.upper()` first, as Werkzeug does).
    @inline(__always)
    func bit(_ method: String) -> UInt64 {
        // Pack up to 8 bytes, upper-casing ASCII on the way; anything else takes the general path.
        // (`utf8.span` borrows the bytes in place: no copy, no retain.)
        let key = method.utf8.span.withUnsafeBufferPointer { utf8 -> UInt64 in
            guard utf8.count <= 8 else { return 0 }
            var key: UInt64 = 0
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                if byte >= 0x80 { return 0 }
                key |= UInt64(byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte) << UInt64(8 * index)
                index += 1
            }
            return key
        }
        guard key != 0 else { return slowBit(method) }
        return packed.withUnsafeBufferPointer { packed in
            var index = 0
            while index < packed.count {
                if packed[index] == key { return UInt64(1) << UInt64(index) }
                index += 1
            }
            return 0
        }
    }

    private func slowBit(_ method: String) -> UInt64 {
        bits[method.uppercased()].map { UInt64(1) << UInt64($0) } ?? 0
    }

    /// The sorted method names of `mask` (a 405's `allowed`).
    func allowed(_ mask: UInt64) -> [String] {
        var low = 0
        var high = allowedMasks.count
        while low < high {
            let middle = (low + high) / 2
            if allowedMasks[middle] < mask { low = middle + 1 } else { high = middle }
        }
        if low < allowedMasks.count, allowedMasks[low] == mask { return allowedLists[low] }
        return Self.allowed(mask, names: names)
    }

    private static func allowed(_ mask: UInt64, names: [String]) -> [String] {
        names.indices.filter { mask & (UInt64(1) << UInt64($0)) != 0 }.map { names[$0] }.sorted()
    }

    /// Up to 8 ASCII bytes, upper-cased, packed little-endian (so no real method packs to 0).
    static func pack<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var packed: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            let upper = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
            packed |= UInt64(upper) << shift
            shift += 8
        }
        return packed
    }
}
