import FeistyCore
import Foundation

/// The ban-list benchmark (bench/guard_bench.sh runs it):
///
///     feisty-bench-bans lookup [COUNT] [LOOKUPS]   build a BanList of COUNT bans, time LOOKUPS lookups of hits
///                                                  and of misses; prints RESULT lines
///     feisty-bench-bans store DIR [COUNT]          write COUNT bans into DIR/bans.sqlite (one transaction)
///     feisty-bench-bans check                      BanList against a brute-force scan, random small lists of
///                                                  blocks of every length around IPv4, IPv4-mapped and IPv6 bases
///
/// The bans (the same set in both modes, from a fixed seed): half single IPv4 addresses (/32), half IPv6 /64s (the
/// keys automatic bans use), plus 300 CIDR blocks added by hand (IPv4 /16, /20, /24 inside 10.0.0.0/8; IPv6 /32,
/// /48 inside fd00::/8). `lookup` builds two lists: the single keys alone (2 prefix lengths to probe) and with the
/// CIDRs (7). Probes, 2^18 of each kind, cycled: hits (half banned IPv4 addresses, half addresses inside banned
/// /64s), CIDR hits (2^15, addresses inside the CIDRs), misses (IPv4 and IPv6 addresses under no ban, half each,
/// which probe every table). Timed: the table walk alone (`ban(covering:at:)`, LOOKUPS lookups) and the hot path's
/// form, which reads the clock per lookup (`ban(covering:)`, a tenth as many).
@main
struct BanBenchmark {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else { usage() }
        switch arguments[1] {
        case "lookup":
            let count = arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000
            let lookups = arguments.count > 3 ? Int(arguments[3]) ?? 10_000_000 : 10_000_000
            lookup(count: count, lookups: lookups)
        case "check":
            check()
        case "store":
            guard arguments.count >= 3 else { usage() }
            let count = arguments.count > 3 ? Int(arguments[3]) ?? 1_000_000 : 1_000_000
            try store(directory: arguments[2], count: count)
        default:
            usage()
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(
            Data("usage: feisty-bench-bans lookup [COUNT] [LOOKUPS] | store DIR [COUNT]\n".utf8)
        )
        exit(2)
    }

    // MARK: The ban set

    /// SplitMix64: a fixed, fast sequence.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func v4(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    static func hex(_ value: UInt64, groups: Int) -> String {
        (0..<groups).map { String(UInt16(truncatingIfNeeded: value >> (16 * UInt64(groups - 1 - $0))), radix: 16) }
            .joined(separator: ":")
    }

    /// A public-looking IPv4 address outside 10.0.0.0/8 (where the CIDRs are).
    static func randomV4(_ random: inout Random) -> UInt32 {
        while true {
            let value = UInt32(truncatingIfNeeded: random.next())
            if value >> 24 != 10, value >> 24 != 0, value >> 24 != 127 { return value }
        }
    }

    struct BanSet {
        var keys: [String] = []
        var v4: Set<UInt32> = []
        /// The /64s' upper 64 bits below 2001:db8::/32 (so the low 32 bits of the upper half are random).
        var v6: Set<UInt32> = []
        /// Addresses under the single-key bans (/32, /64), under the CIDRs, and under no ban.
        var hits: [IPAddress] = []
        var cidrHits: [IPAddress] = []
        var misses: [IPAddress] = []
        var cidrCount = 0
    }

    static func banSet(count: Int, withCIDRs: Bool = true, probes: Int = 1 << 18) -> BanSet {
        var random = Random(state: 0xFE15_7700)
        var set = BanSet()
        let cidrs = withCIDRs ? 300 : 0
        let singles = max(0, count - cidrs)
        set.keys.reserveCapacity(count)
        var v4List: [UInt32] = []
        var v6List: [UInt32] = []
        while set.v4.count < singles / 2 {
            let value = randomV4(&random)
            if set.v4.insert(value).inserted {
                v4List.append(value)
                set.keys.append(v4(value))
            }
        }
        while set.v6.count < singles - singles / 2 {
            let value = UInt32(truncatingIfNeeded: random.next())
            if set.v6.insert(value).inserted {
                v6List.append(value)
                set.keys.append("2001:db8:\(hex(UInt64(value), groups: 2))::/64")
            }
        }
        var cidrHits: [String] = []
        for index in 0..<cidrs {
            let pick = random.next()
            switch index % 5 {
            case 0:  // IPv4 /16 in 10.0.0.0/8
                let b = UInt32(truncatingIfNeeded: pick) & 0xff
                set.keys.append("10.\(b).0.0/16")
                cidrHits.append("10.\(b).\(pick >> 8 & 0xff).\(pick >> 16 & 0xff)")
            case 1:  // IPv4 /20
                let b = UInt32(truncatingIfNeeded: pick) & 0xff, c = UInt32(truncatingIfNeeded: pick >> 8) & 0xf0
                set.keys.append("10.\(b).\(c).0/20")
                cidrHits.append("10.\(b).\(c | 3).\(pick >> 16 & 0xff)")
            case 2:  // IPv4 /24
                let b = UInt32(truncatingIfNeeded: pick) & 0xff, c = UInt32(truncatingIfNeeded: pick >> 8) & 0xff
                set.keys.append("10.\(b).\(c).0/24")
                cidrHits.append("10.\(b).\(c).\(pick >> 16 & 0xff)")
            case 3:  // IPv6 /32 in fd00::/8
                let g = hex(pick & 0xff_ffff, groups: 2)
                set.keys.append("\(g)::/32")
                cidrHits.append("\(g):1:2:3:4:5:6")
            default:  // IPv6 /48
                let g = hex(pick & 0xff_ffff_ffff, groups: 3)
                set.keys.append("\(g)::/48")
                cidrHits.append("\(g):7:8:9:a:b")
            }
        }
        // The IPv6 CIDRs above start with 00xx:xxxx; put them under fd00::/8 instead.
        for index in set.keys.indices.suffix(cidrs) where set.keys[index].contains(":") {
            set.keys[index] = "fd" + set.keys[index]
        }
        cidrHits = cidrHits.map { $0.contains(":") ? "fd" + $0 : $0 }
        set.cidrCount = cidrs
        // Probes: a shuffled mix, parsed once.
        for index in 0..<probes {
            let pick = random.next()
            if index % 2 == 0 {
                set.hits.append(IPAddress(v4(v4List[Int(pick % UInt64(v4List.count))]))!)
            } else {
                let prefix = v6List[Int(pick % UInt64(v6List.count))]
                set.hits.append(IPAddress("2001:db8:\(hex(UInt64(prefix), groups: 2)):\(hex(pick >> 1, groups: 4))")!)
            }
            if index < probes / 8, !cidrHits.isEmpty {
                set.cidrHits.append(IPAddress(cidrHits[Int(pick % UInt64(cidrHits.count))])!)
            }
            if index % 2 == 0 {
                var value: UInt32
                repeat { value = randomV4(&random) } while set.v4.contains(value)
                set.misses.append(IPAddress(v4(value))!)
            } else {
                var value: UInt32
                repeat { value = UInt32(truncatingIfNeeded: random.next()) } while set.v6.contains(value)
                set.misses.append(IPAddress("2001:db8:\(hex(UInt64(value), groups: 2)):\(hex(pick, groups: 4))")!)
            }
        }
        return set
    }

    // MARK: Modes

    static func residentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024 : 0
    }

    static func seconds(_ duration: Duration) -> Double {
        duration.timeInterval
    }

    static func lookup(count: Int, lookups: Int) {
        let clock = ContinuousClock()
        let set = banSet(count: count)
        let since = Date()
        // Bans as the store hands them to a starting feisty (forever: no clock comparison decides a hit).
        let all = set.keys.map { Ban(key: try! BanKey(parsing: $0), since: since, until: nil, source: .manual) }
        let cidrs = all.suffix(set.cidrCount)
        var kept: [BanList] = []  // both lists stay alive, so each RSS difference is that list's own
        for withCIDRs in [false, true] {
            let label = withCIDRs ? "with-cidrs" : "single-keys"
            let bans = withCIDRs ? all : Array(all.dropLast(set.cidrCount))
            let before = residentKiB()
            var list: BanList? = nil
            let buildTime = clock.measure { list = BanList(bans) }
            let banList = list!
            kept.append(banList)
            let after = residentKiB()
            let lengths = Set(bans.map { $0.key.network.prefixLength }).count
            print(
                "RESULT bans-\(label) count=\(banList.count) prefix_lengths=\(lengths) cidrs=\(withCIDRs ? cidrs.count : 0)"
                    + " build_s=\(String(format: "%.3f", seconds(buildTime)))"
                    + " list_rss_mib=\(String(format: "%.1f", Double(after - before) / 1024))"
            )
            let reference = ReferenceBanList(bans)
            let now = Date().timeIntervalSince1970
            var kinds = [("hit", set.hits), ("miss", set.misses)]
            if withCIDRs { kinds.insert(("cidr-hit", set.cidrHits), at: 1) }
            for (kind, probes) in kinds {
                let mask = probes.count - 1  // a power of two
                // Warm-up pass, then the timed loop: the explicit `at:` form (the table walk alone) and the
                // hot path's form, which reads the clock for every lookup.
                var found = 0
                for address in probes where banList.ban(covering: address, at: now) != nil { found += 1 }
                let expected = kind == "miss" ? 0 : probes.count
                if found != expected {
                    print("WARNING \(label) \(kind): \(found) of \(probes.count) probes found banned")
                }
                found = 0
                let walk = clock.measure {
                    for index in 0..<lookups where banList.ban(covering: probes[index & mask], at: now) != nil {
                        found += 1
                    }
                }
                let walkFound = found
                found = 0
                let clocked = max(1, lookups / 10)  // a tenth as many: the clock's cost is the point, not the walk
                let hot = clock.measure {
                    for index in 0..<clocked where banList.ban(covering: probes[index & mask]) != nil { found += 1 }
                }
                // The same probes through the walk BanList had before it skipped the other family's tables.
                var referenceFound = 0
                let referenceWalk = clock.measure {
                    for index in 0..<lookups where reference.ban(covering: probes[index & mask], at: now) {
                        referenceFound += 1
                    }
                }
                if referenceFound != walkFound { print("WARNING \(label) \(kind): the reference walk disagrees") }
                print(
                    "RESULT lookup-\(label) \(kind) lookups=\(lookups)"
                        + " ns_per_lookup_every_table=\(String(format: "%.1f", seconds(referenceWalk) * 1e9 / Double(lookups)))"
                        + " ns_per_lookup=\(String(format: "%.1f", seconds(walk) * 1e9 / Double(lookups)))"
                        + " ns_per_lookup_with_clock=\(String(format: "%.1f", seconds(hot) * 1e9 / Double(clocked)))"
                        + " found=\(walkFound)/\(found)"
                )
            }
            withExtendedLifetime(bans) {}
        }
    }

    static func check() {
        let bases = [
            "192.0.2.7", "10.1.2.3", "0.0.0.1", "2001:db8::1", "::1", "::", "::ffff:0:0", "::fffe:c000:207",
            "2001:db8:0:0:0:ffff:c000:207", "fe80::1:2",
        ].map { IPAddress($0)! }
        var random = Random(state: 42)
        func address() -> IPAddress {
            let base = bases[Int(random.next() % UInt64(bases.count))]
            let flip = random.next() % 3 == 0 ? UInt128(1) << UInt128(random.next() % 128) : 0
            return base.flipped(flip)
        }
        var checked = 0
        var wrong = 0
        for _ in 0..<3000 {
            let keys: [BanKey] = (0..<(1 + Int(random.next() % 6))).map { _ in
                let base = address()
                // IPv4 blocks are /0.../32 of the mapped space (/96.../128); IPv6 ones any length.
                let length = Int(random.next() % (base.isIPv4 ? 33 : 129))
                return try! BanKey(parsing: "\(base.isIPv4 ? "\(base)" : base.mappedText)/\(length)")
            }
            let list = BanList(keys.map { Ban(key: $0, since: Date(), until: nil, source: .manual) })
            for _ in 0..<40 {
                let probe = address()
                let expected = keys.contains { $0.covers(probe) }
                let got = list.ban(covering: probe, at: 0) != nil
                checked += 1
                if expected != got {
                    wrong += 1
                    if wrong <= 5 { print("MISMATCH \(probe) in \(keys): expected \(expected), got \(got)") }
                }
            }
        }
        print("RESULT check lookups=\(checked) wrong=\(wrong)")
        if wrong > 0 { exit(1) }
    }

    static func store(directory: String, count: Int) throws {
        let set = banSet(count: count, probes: 16)
        let since = Date()
        let bans = set.keys.map {
            Ban(key: try! BanKey(parsing: $0), since: since, until: nil, reason: "bench", source: .manual)
        }
        let clock = ContinuousClock()
        let store = try BanStore(directory: directory)
        let writeTime = try clock.measure { try store.add(contentsOf: bans) }
        var loaded = 0
        let readTime = try clock.measure { loaded = try store.snapshot(at: Date()).bans.count }
        var listCount = 0
        let buildTime = try clock.measure { listCount = BanList(try store.activeBans(at: Date())).count }
        print(
            "RESULT store count=\(bans.count) write_s=\(String(format: "%.2f", seconds(writeTime)))"
                + " snapshot_s=\(String(format: "%.2f", seconds(readTime))) (\(loaded) bans)"
                + " read_and_build_s=\(String(format: "%.2f", seconds(buildTime))) (\(listCount) in the list)"
        )
    }
}

extension IPAddress {
    /// This address with `bits` flipped (an IPv4 result parsed back from its mapped form).
    func flipped(_ bits: UInt128) -> IPAddress {
        let value = self.bits ^ bits
        return IPAddress(Self.text(value))!
    }

    /// The full IPv6 text of the address.
    var mappedText: String { Self.text(bits) }

    static func text(_ value: UInt128) -> String {
        (0..<8).map { String(UInt16(truncatingIfNeeded: value >> (16 * (7 - UInt128($0)))), radix: 16) }
            .joined(separator: ":")
    }
}

/// BanList's walk before it skipped the tables of the other address family (3a3cb19): every prefix length in use is
/// probed, most specific first. The benchmark times it on the same probes, in the same run, as the peer.
final class ReferenceBanList {
    private let tables: [(length: Int, mask: UInt128, entries: [UInt128: Double])]

    init(_ bans: [Ban]) {
        var byLength: [Int: [UInt128: Double]] = [:]
        for ban in bans {
            let until = ban.until?.timeIntervalSince1970 ?? .infinity
            let network = ban.key.network
            if let previous = byLength[network.prefixLength]?[network.network.bits], previous >= until { continue }
            byLength[network.prefixLength, default: [:]][network.network.bits] = until
        }
        tables = byLength.sorted { $0.key > $1.key }.map { length, entries in
            (length: length, mask: length == 0 ? 0 : ~UInt128(0) << (128 - length), entries: entries)
        }
    }

    func ban(covering address: IPAddress, at now: Double) -> Bool {
        for table in tables {
            if let until = table.entries[address.bits & table.mask], now < until { return true }
        }
        return false
    }
}
