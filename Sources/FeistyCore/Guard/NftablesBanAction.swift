import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `--ban-action nftables`: mirrors the ban list into an nftables table so the kernel drops banned clients before
/// they reach the proxy.
///
/// The table (`table inet feisty` by default) holds five sets with timeouts and an `input` chain at priority -10 that
/// drops packets whose source is in any of them: hash sets for single addresses (`banned4_addresses`,
/// `banned6_addresses`) and IPv6 /64s (`banned6_64`, matched on the source's first 64 bits), which is what automatic
/// bans use, and interval sets `banned4` and `banned6` for other blocks (see `setName(for:)` for why). Dropping (not
/// rejecting with a TCP reset) is deliberate: a banned client's connects hang until its own timeout, and feisty
/// spends nothing on it. Every change runs the `nft` command with a script on its standard input (`nft -f -`), one
/// atomic transaction per call (two when a new block first replaces the elements inside it); `load(_:now:)` sends
/// any number of bans in one process. Calls run one at a time, in the order they reach the actor.
///
/// nftables interval sets refuse overlapping elements (`10.0.0.0/8` and `10.1.2.3/32` cannot both be in `banned4`),
/// so the action keeps a copy of what it put in the sets and never adds a key that a wider element covers (the
/// element drops it already); a block that covers keys already in the sets replaces them. The kernel may then stop
/// dropping a key earlier than its own ban ends (when the block that covered it ends or is removed first); the proxy
/// still refuses it, so what the kernel drops is always a subset of what feisty bans.
///
/// Call order for the proxy: `prepare()` at start, `load(_:now:)` with the active bans, `ban(_:for:)` after a ban is
/// durable, `unban(_:)` when one is removed, `teardown()` at exit. Needs root or CAP_NET_ADMIN (with `--user`, the
/// ``NetAdminThread`` it starts `nft` from keeps it) and the `nft` command.
public actor NftablesBanAction {
    /// The nftables table name (in the `inet` family).
    public let table: String
    /// The `nft` command: a name looked up in `PATH` or a path.
    public let nft: String
    /// Words run before `nft`, e.g. `["ip", "netns", "exec", "NAME"]` to work inside a network namespace.
    public let commandPrefix: [String]
    /// Where `nft` is started from (`nil`: swift-subprocess's thread): with `--user`, the one thread that keeps
    /// `CAP_NET_ADMIN` (a child process has the capabilities of the thread that forked it).
    public let netAdmin: NetAdminThread?

    /// What the sets hold, as far as this action knows.
    private var elements = ElementMirror()

    /// The longest `nft` output kept (its errors quote the failing line, which may list many elements).
    private static let outputLimit = 8 << 20
    /// Elements per `add element` line in a batch.
    private static let elementsPerLine = 1000
    /// How long after its end an element is still assumed to be in the kernel's set (its timer started a little
    /// after ours) and so deleted before a block overlapping it is added.
    private static let expiryGrace: TimeInterval = 5

    /// - Parameters:
    ///   - table: The `inet` table to own; it is replaced by `prepare()` and deleted by `teardown()`.
    ///   - nft: The `nft` command.
    ///   - commandPrefix: Words to run `nft` through (a network namespace in tests); empty runs it directly.
    ///   - netAdmin: The thread to start `nft` from (`--user`); `nil` starts it with swift-subprocess.
    public init(
        table: String = "feisty",
        nft: String = "nft",
        commandPrefix: [String] = [],
        netAdmin: NetAdminThread? = nil
    ) {
        self.table = table
        self.nft = nft
        self.commandPrefix = commandPrefix
        self.netAdmin = netAdmin
    }

    // MARK: - Operations

    /// Creates the table, its sets and the dropping chain, replacing a table of the same name left by an earlier
    /// run, in one transaction (no moment without the table's rules, no stale elements kept).
    /// - Throws: `GuardError.nftablesFailed`.
    public func prepare() async throws(GuardError) {
        await acquire()
        defer { release() }
        try await run(Self.prepareScript(table: table))
        elements.removeAll()
    }

    /// Adds `key` to its set until `duration` from now (`nil`: without a timeout). A key already in the set gets
    /// the new end. A duration of zero or less removes the key (its ban is over).
    /// - Throws: `GuardError.nftablesFailed`.
    public func ban(_ key: BanKey, for duration: Duration?) async throws(GuardError) {
        await acquire()
        defer { release() }
        let now = Date()
        guard let duration else {
            try await add([(key, nil)], now: now)
            return
        }
        guard duration > .zero else {
            try await remove(key)
            return
        }
        try await add([(key, now.addingTimeInterval(duration.timeInterval))], now: now)
    }

    /// Removes `key` from its set; nothing happens when it is not there.
    /// - Throws: `GuardError.nftablesFailed`.
    public func unban(_ key: BanKey) async throws(GuardError) {
        await acquire()
        defer { release() }
        try await remove(key)
    }

    /// Adds every ban active at `now`, each with its remaining time, in one `nft` process (one transaction; a
    /// second one first when the bans' blocks cover elements already in the sets).
    /// - Throws: `GuardError.nftablesFailed`.
    public func load(_ bans: [Ban], now: Date) async throws(GuardError) {
        await acquire()
        defer { release() }
        try await add(bans.filter { $0.isActive(at: now) }.map { ($0.key, $0.until) }, now: now)
    }

    /// Deletes the table (feisty's shutdown); errors are ignored.
    public func teardown() async {
        await acquire()
        defer { release() }
        try? await run("table inet \(table) {}\ndelete table inet \(table)\n")
        elements.removeAll()
    }

    // MARK: - One change at a time

    /// Whether an operation is running; the actor's methods suspend while `nft` runs, and an operation works out
    /// its script from `elements` as the previous one left them.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }

    // MARK: - Applying changes

    private func remove(_ key: BanKey) async throws(GuardError) {
        guard elements.contains(key) else { return }
        try await run(Self.deleteScript(table: table, keys: [key]))
        elements.remove(key)
    }

    /// Adds keys with their ends, leaving out those covered by a wider element and deleting the elements the new
    /// keys cover, so that no two elements of a set overlap.
    private func add(_ requested: [(key: BanKey, until: Date?)], now: Date) async throws(GuardError) {
        elements.prune(now: now, grace: Self.expiryGrace)
        var wanted: [BanKey: Date?] = [:]
        for item in requested {
            if let existing = wanted[item.key] {
                wanted[item.key] = Self.later(existing, item.until)
            } else {
                wanted[item.key] = item.until
            }
        }
        // Wider blocks first: a key is kept only when no kept key or live element covers it.
        func isLive(_ until: Date?) -> Bool { until.map { $0 > now } ?? true }
        var kept: [(key: BanKey, until: Date?)] = []
        var keptIndex = IntervalIndex()
        for key in wanted.keys.sorted(by: { ($0.network.prefixLength, $0) < ($1.network.prefixLength, $1) }) {
            if !keptIndex.covering(key).isEmpty || elements.covering(key).contains(where: { isLive($0.until) }) {
                continue
            }
            kept.append((key, wanted[key]!))
            keptIndex.insert(key)
        }
        guard !kept.isEmpty else { return }
        // Elements inside a new block, and elements that may have just ended but still be in the kernel's set
        // around one: delete them first, in their own transaction, since nft checks overlaps against the set as
        // it is before the batch.
        var overlapping = Set<BanKey>()
        if kept.contains(where: { elements.hasLonger(than: $0.key.network.prefixLength) }) {
            overlapping.formUnion(elements.keys.filter { !keptIndex.covering($0, strictly: true).isEmpty })
        }
        for item in kept {
            overlapping.formUnion(elements.covering(item.key).filter { !isLive($0.until) }.map(\.key))
        }
        if !overlapping.isEmpty {
            try await run(Self.deleteScript(table: table, keys: overlapping.sorted()))
            for key in overlapping { elements.remove(key) }
        }
        // Keys already in a set are replaced (add, delete, add) so that they take the new timeout.
        let replaced = kept.map(\.key).filter { elements.contains($0) }
        var script = Self.deleteScript(table: table, keys: replaced)
        script += Self.addScript(table: table, elements: kept, now: now)
        try await run(script)
        for item in kept { elements.set(item.key, until: item.until) }
    }

    private static func later(_ a: Date?, _ b: Date?) -> Date? {
        guard let a, let b else { return nil }
        return max(a, b)
    }

    /// Runs `nft -f -` with `script` on its standard input.
    private func run(_ script: String) async throws(GuardError) {
        // The name goes into the script as it is: letters, digits, `_` and `-` only.
        guard !table.isEmpty, table.utf8.count <= 64,
            table.unicodeScalars.allSatisfy({
                ("0"..."9").contains($0) || ("a"..."z").contains($0)
                    || ("A"..."Z").contains($0) || $0 == "_" || $0 == "-"
            })
        else { throw .nftablesFailed("not a table name: \(table)") }
        let words = commandPrefix + [nft, "-f", "-"]
        let outcome: Outcome
        if let netAdmin {
            outcome = try await run(words, script, from: netAdmin)
        } else {
            outcome = try await run(words, script)
        }
        guard outcome.succeeded else {
            let text = outcome.error.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .nftablesFailed(Self.abbreviated(text.isEmpty ? outcome.status : text))
        }
    }

    /// How an `nft` run ended: whether it exited with 0, its status as text, and its standard error.
    private typealias Outcome = (succeeded: Bool, status: String, error: String)

    /// Runs `words` with swift-subprocess (from its worker thread).
    private func run(_ words: [String], _ script: String) async throws(GuardError) -> Outcome {
        let program = words[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let configuration = Configuration(executable: executable, arguments: Arguments(Array(words.dropFirst())))
        let result: ExecutionResult<Void, StringOutput<UTF8>, StringOutput<UTF8>>
        do {
            result = try await Subprocess.run(
                configuration,
                input: .string(script),
                output: .string(limit: Self.outputLimit),
                error: .string(limit: Self.outputLimit)
            )
        } catch {
            throw .nftablesFailed("cannot run \(words.joined(separator: " ")): \(error)")
        }
        let succeeded = if case .exited(0) = result.terminationStatus { true } else { false }
        return (succeeded, "\(result.terminationStatus)", result.standardError)
    }

    /// Runs `words` from `thread`, so that `nft` starts with the `CAP_NET_ADMIN` that thread kept.
    private func run(_ words: [String], _ script: String, from thread: NetAdminThread) async throws(GuardError)
        -> Outcome
    {
        do {
            let captured = try await thread.runCapturing(words, input: script, limit: Self.outputLimit)
            return (captured.succeeded, "wait status \(captured.status)", captured.error)
        } catch {
            throw .nftablesFailed("cannot run \(words.joined(separator: " ")): \(error)")
        }
    }

    /// At most a few thousand characters of `text` (nft quotes the whole failing line).
    private static func abbreviated(_ text: String, limit: Int = 4000) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    // MARK: - Scripts

    /// The sets, in the order the chain looks them up.
    static let setNames = ["banned4_addresses", "banned4", "banned6_addresses", "banned6_64", "banned6"]

    /// The set a key belongs in: single addresses and IPv6 /64s (what automatic bans use) in plain hash sets,
    /// other blocks in the interval sets `banned4` and `banned6`.
    ///
    /// Any change to a set with intervals makes `nft` read every element of every interval set first (it checks
    /// overlaps in user space), which takes seconds with 100,000 elements; the hash sets keep the common bans fast.
    static func setName(for key: BanKey) -> String {
        switch (isIPv4(key), key.network.prefixLength) {
        case (true, 128): "banned4_addresses"
        case (true, _): "banned4"
        case (false, 128): "banned6_addresses"
        case (false, 64): "banned6_64"
        case (false, _): "banned6"
        }
    }

    /// Whether a key is an IPv4 address or block (stored IPv4-mapped, so a prefix length of 96 or more).
    static func isIPv4(_ key: BanKey) -> Bool {
        key.network.network.isIPv4 && key.network.prefixLength >= 96
    }

    /// The element text nft expects: `192.0.2.7`, `10.0.0.0/8`, `2001:db8:0:0:0:0:0:5`, `2001:db8:0:0:0:0:0:0/48`;
    /// a /64 is its network address alone (its set holds the sources' first 64 bits).
    static func elementText(for key: BanKey) -> String {
        setName(for: key) == "banned6_64" ? key.network.network.description : key.description
    }

    /// An nft timeout for the time left until `until`, in whole milliseconds rounded up (at least 1 ms).
    static func timeoutText(until: Date, now: Date) -> String {
        let milliseconds = max(1, (until.timeIntervalSince(now) * 1000).rounded(.up))
        let capped = min(milliseconds, Double(Int64.max / 2))
        return "\(Int64(capped))ms"
    }

    static func prepareScript(table: String) -> String {
        """
        table inet \(table) {}
        delete table inet \(table)
        table inet \(table) {
            set banned4_addresses {
                type ipv4_addr
                flags timeout
            }
            set banned4 {
                type ipv4_addr
                flags interval, timeout
            }
            set banned6_addresses {
                type ipv6_addr
                flags timeout
            }
            set banned6_64 {
                type ipv6_addr
                flags timeout
            }
            set banned6 {
                type ipv6_addr
                flags interval, timeout
            }
            chain input {
                type filter hook input priority -10; policy accept;
                ip saddr @banned4_addresses drop
                ip saddr @banned4 drop
                ip6 saddr @banned6_addresses drop
                ip6 saddr & ffff:ffff:ffff:ffff:: @banned6_64 drop
                ip6 saddr @banned6 drop
            }
        }

        """
    }

    /// Deletes keys that may or may not be in their sets: each is added first (a no-op when present), so that the
    /// delete never fails on an absent element.
    static func deleteScript(table: String, keys: [BanKey]) -> String {
        var script = ""
        for (set, group) in grouped(keys.map { ($0, "") }) {
            for chunk in chunks(group) {
                let list = chunk.map { elementText(for: $0.key) }.joined(separator: ", ")
                script += "add element inet \(table) \(set) { \(list) }\n"
                script += "delete element inet \(table) \(set) { \(list) }\n"
            }
        }
        return script
    }

    static func addScript(table: String, elements: [(key: BanKey, until: Date?)], now: Date) -> String {
        var script = ""
        let texts = elements.map { item in
            (
                item.key,
                item.until.map { "\(elementText(for: item.key)) timeout \(timeoutText(until: $0, now: now))" }
                    ?? elementText(for: item.key)
            )
        }
        for (set, group) in grouped(texts) {
            for chunk in chunks(group) {
                script += "add element inet \(table) \(set) { \(chunk.map(\.text).joined(separator: ", ")) }\n"
            }
        }
        return script
    }

    private static func grouped(_ items: [(BanKey, String)]) -> [(String, [(key: BanKey, text: String)])] {
        var bySet: [String: [(key: BanKey, text: String)]] = [:]
        for (key, text) in items { bySet[setName(for: key), default: []].append((key, text)) }
        return setNames.compactMap { name in bySet[name].map { (name, $0) } }
    }

    private static func chunks<T>(_ items: [T]) -> [ArraySlice<T>] {
        stride(from: 0, to: items.count, by: elementsPerLine).map {
            items[$0..<min($0 + elementsPerLine, items.count)]
        }
    }
}

/// What the sets hold, as far as the action knows: each key with its end (`nil`: no timeout), and how many keys
/// there are of each prefix length, so that the blocks around a key are found by lookups instead of a scan.
struct ElementMirror {
    private var ends: [BanKey: Date?] = [:]
    private var countByLength: [Int: Int] = [:]
    private var callsSincePrune = 0

    var keys: Dictionary<BanKey, Date?>.Keys { ends.keys }

    func contains(_ key: BanKey) -> Bool { ends[key] != nil }

    mutating func set(_ key: BanKey, until: Date?) {
        if ends.updateValue(until, forKey: key) == nil { countByLength[key.network.prefixLength, default: 0] += 1 }
    }

    mutating func remove(_ key: BanKey) {
        guard ends.removeValue(forKey: key) != nil else { return }
        let length = key.network.prefixLength
        countByLength[length, default: 1] -= 1
        if countByLength[length] == 0 { countByLength[length] = nil }
    }

    mutating func removeAll() {
        ends = [:]
        countByLength = [:]
    }

    /// Forgets keys that ended more than `grace` before `now` (the kernel has dropped them); a scan, so on every
    /// call while small and once per 1,000 calls when large.
    mutating func prune(now: Date, grace: TimeInterval) {
        callsSincePrune += 1
        guard ends.count < 1000 || callsSincePrune >= 1000 else { return }
        callsSincePrune = 0
        for (key, until) in ends where until.map({ now.timeIntervalSince($0) > grace }) ?? false { remove(key) }
    }

    /// The keys strictly wider than `key` that contain it, in the same family (an IPv6 block never holds IPv4).
    func covering(_ key: BanKey) -> [(key: BanKey, until: Date?)] {
        var found: [(key: BanKey, until: Date?)] = []
        let lowest = NftablesBanAction.isIPv4(key) ? 96 : 0
        for length in countByLength.keys where length >= lowest && length < key.network.prefixLength {
            let block = BanKey(network: IPNetwork(networkBits: key.network.network.bits, prefixLength: length))
            if let until = ends[block] { found.append((block, until)) }
        }
        return found
    }

    /// Whether some key is longer (narrower) than `length`.
    func hasLonger(than length: Int) -> Bool { countByLength.keys.contains { $0 > length } }
}

/// Blocks by prefix length, to find quickly the ones that contain a key.
struct IntervalIndex {
    private var byLength: [Int: [UInt128: BanKey]] = [:]

    mutating func insert(_ key: BanKey) {
        byLength[key.network.prefixLength, default: [:]][key.network.network.bits] = key
    }

    /// The blocks that contain `key`: of any length up to its own, or (`strictly`) only shorter, wider ones; in the
    /// same family (an IPv6 block never holds IPv4).
    func covering(_ key: BanKey, strictly: Bool = false) -> [BanKey] {
        var found: [BanKey] = []
        let lowest = NftablesBanAction.isIPv4(key) ? 96 : 0
        for (length, networks) in byLength
        where length >= lowest
            && (length < key.network.prefixLength || (!strictly && length == key.network.prefixLength))
        {
            let mask: UInt128 = length == 0 ? 0 : ~UInt128(0) << (128 - length)
            if let block = networks[key.network.network.bits & mask] { found.append(block) }
        }
        return found
    }
}
