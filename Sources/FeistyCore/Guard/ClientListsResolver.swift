import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the ``ClientListsSnapshot`` of `--allow`, `--deny` and `--priority` current: resolves their host names at
/// start and every `--dns-refresh`, and checks clients against their reverse patterns (`*.googlebot.com`).
///
/// - Host names: ``resolveInitial()`` resolves them before the proxy listens; ``run()`` re-resolves them every
///   `dnsRefresh`. A name that does not resolve is a warning, not an error: it matches nothing until it resolves,
///   and on a later failure it keeps the addresses it had.
/// - Reverse patterns: a pattern matches a client only after a check (the PTR name of its address lies under the
///   pattern and resolves forward to the address again). The proxy passes unchecked clients to
///   ``noteClient(_:)`` (cheap, never blocks on DNS); ``run()`` checks them on a dedicated thread pool, remembers
///   each result for `dnsRefresh` (up to `reverseCacheLimit` addresses, oldest forgotten first) and republishes the
///   snapshot. Until its check completes, a client is not matched by any reverse pattern: its first connections
///   are judged by the other entries alone. A failed lookup (no PTR record, a DNS timeout) counts as no match
///   until the result expires. `getnameinfo` gives one PTR name per address; only that one is tried.
///
/// ``run()`` must be called at most once (it owns the queue of noted clients).
///
/// The proxy reads ``current`` (or calls ``membership(of:)``) on its event loops: a short lock to copy a reference
/// (nothing but one atomic load while the lists are empty). ``replace(lists:)`` swaps the lists at run time (a
/// configuration reload): the next snapshot serves the new ones, host names resolved as soon as they can be.
public final class ClientListsResolver: Service, Sendable {
    /// The lists served.
    public var lists: AddressLists { state.withLock { $0.lists } }
    /// How often host names are resolved again, and how long a reverse check holds.
    public let dnsRefresh: Duration

    private let lookup: DNSLookup
    private let logger: Logger
    private let pendingLimit: Int
    private let reverseCacheLimit: Int
    private let published: Mutex<ClientListsSnapshot>
    /// Whether the lists are empty: then no client is on any list, and the hot path skips the snapshot's lock.
    private let empty: Atomic<Bool>
    private let state: Mutex<State>
    private let pending: Mutex<PendingClients>
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    private struct State: Sendable {
        var lists: AddressLists
        var reversePatterns: [(ClientListMembership, [ReversePattern])]
        var hostAddresses: [String: [IPAddress]] = [:]
        var table: NetworkTable
        var reverse: ReverseCheckCache
        var resolvedInitially = false
    }

    /// Clients waiting for a reverse check: a set to dedupe, an array to keep their order.
    private struct PendingClients: Sendable {
        var queued: Set<UInt128>
        var order: [UInt128]
        var dropped = 0
    }

    /// A resolver for `lists`; its snapshot holds the addresses and CIDRs at once, host names once resolved.
    /// - Parameters:
    ///   - lists: The parsed flags.
    ///   - dnsRefresh: `--dns-refresh`: the period of re-resolution and the lifetime of a reverse check.
    ///   - logger: Where unresolvable names are reported (warning) and reverse matches noted (debug).
    ///   - lookup: The blocking lookups (the system resolver unless a test substitutes it).
    ///   - reverseCacheLimit: At most this many checked addresses are remembered.
    ///   - pendingLimit: At most this many clients wait for a check; more are dropped (and noted again later).
    public init(
        lists: AddressLists,
        dnsRefresh: Duration = .seconds(300),
        logger: Logger,
        lookup: DNSLookup = .system,
        reverseCacheLimit: Int = 100_000,
        pendingLimit: Int = 1024
    ) {
        self.dnsRefresh = dnsRefresh
        self.lookup = lookup
        self.logger = logger
        self.pendingLimit = max(1, pendingLimit)
        self.reverseCacheLimit = reverseCacheLimit
        self.empty = Atomic(lists.isEmpty)
        let table = NetworkTable(lists: lists, hostAddresses: [:])
        self.published = Mutex(
            ClientListsSnapshot(table: table, reverseResults: [:], checksReverseNames: lists.hasReversePatterns)
        )
        self.state = Mutex(
            State(
                lists: lists,
                reversePatterns: lists.reversePatterns,
                table: table,
                reverse: ReverseCheckCache(limit: reverseCacheLimit, lifetime: dnsRefresh)
            )
        )
        self.pending = Mutex(
            PendingClients(queued: Set(minimumCapacity: self.pendingLimit), order: [])
        )
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The latest snapshot; cheap enough for every connection.
    public var current: ClientListsSnapshot { published.withLock { $0 } }

    /// The lists `address` is on according to ``current`` (deny wins over allow), noting the client for a reverse
    /// check when it needs one: the one call the proxy's hot path needs.
    public func membership(of address: IPAddress) -> ClientListMembership {
        if empty.load(ordering: .relaxed) { return [] }
        let snapshot = current
        if snapshot.needsReverseCheck(address) { noteClient(address) }
        return snapshot.membership(of: address)
    }

    /// Queues a client for a reverse-pattern check; returns at once and never waits for DNS.
    ///
    /// A client already queued is not queued twice; when `pendingLimit` clients wait, the new one is dropped (it
    /// is noted again on its next connection). Call it for addresses the snapshot says need a check
    /// (``ClientListsSnapshot/needsReverseCheck(_:)``); without reverse patterns it does nothing.
    public func noteClient(_ address: IPAddress) {
        guard current.checksReverseNames else { return }
        let limit = pendingLimit
        let first = pending.withLock { pending -> Bool in
            guard pending.queued.count < limit else {
                pending.dropped += 1
                return false
            }
            guard pending.queued.insert(address.bits).inserted else { return false }
            pending.order.append(address.bits)
            return pending.order.count == 1
        }
        if first { wake.yield() }
    }

    /// The number of clients waiting for a reverse check.
    var pendingCount: Int { pending.withLock { $0.order.count } }

    /// Resolves the host names once; the caller awaits it before the proxy listens. Never throws: names that do
    /// not resolve are logged and match nothing for now.
    public func resolveInitial() async {
        await refreshHostNames()
        state.withLock { $0.resolvedInitially = true }
    }

    /// Resolves the host names (unless ``resolveInitial()`` already did), then re-resolves them every
    /// `dnsRefresh` and checks noted clients until graceful shutdown.
    public func run() async throws {
        if !state.withLock({ $0.resolvedInitially }) { await resolveInitial() }
        // Both loops run even for lists without names or patterns: a reload may bring some (they sleep or wait).
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.refreshLoop() }
            group.addTask { await self.checkLoop() }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
    }

    private func refreshLoop() async {
        while true {
            do {
                try await Task.sleep(for: dnsRefresh)
            } catch {
                return
            }
            await refreshHostNames()
            expireReverseChecks(now: .now)
        }
    }

    private func checkLoop() async {
        for await _ in wakeups {
            await checkPendingClients()
        }
    }

    /// Resolves every host name on the lookup pool and publishes the new addresses; a failure keeps a name's
    /// previous addresses.
    func refreshHostNames() async {
        let names = state.withLock { $0.lists.hostNames }.sorted()
        guard !names.isEmpty else { return }
        let lookup = self.lookup
        var answers: [String: Result<[IPAddress], DNSLookupError>] = [:]
        await withTaskGroup(of: (String, Result<[IPAddress], DNSLookupError>?).self) { group in
            for name in names {
                group.addTask { (name, await DNSLookupPool.run { lookup.forward(name) }) }
            }
            for await (name, answer) in group {
                if let answer { answers[name] = answer }
            }
        }
        var failures: [(String, DNSLookupError, [IPAddress])] = []
        state.withLock { state in
            for (name, answer) in answers {
                switch answer {
                case .success(let addresses): state.hostAddresses[name] = addresses
                case .failure(let error): failures.append((name, error, state.hostAddresses[name] ?? []))
                }
            }
            state.table = NetworkTable(lists: state.lists, hostAddresses: state.hostAddresses)
            publish(state)
        }
        for (name, error, kept) in failures.sorted(by: { $0.0 < $1.0 }) {
            let outcome =
                kept.isEmpty
                ? "it matches no client until it resolves"
                : "keeping its previous addresses \(kept.map(\.description).joined(separator: ", "))"
            logger.warning(
                "client lists: cannot resolve host name \(name): \(error.message); \(outcome)",
                metadata: ["host": "\(name)"]
            )
        }
    }

    /// Checks the queued clients against the reverse patterns (a few at a time on the lookup pool), records the
    /// results and publishes them.
    func checkPendingClients() async {
        let (batch, dropped) = pending.withLock { pending -> ([UInt128], Int) in
            let batch = pending.order
            let dropped = pending.dropped
            pending.order.removeAll(keepingCapacity: true)
            pending.queued.removeAll(keepingCapacity: true)
            pending.dropped = 0
            return (batch, dropped)
        }
        if dropped > 0 {
            logger.debug(
                "client lists: \(dropped) clients not queued for a reverse check (queue full); noted again later"
            )
        }
        let unchecked = state.withLock { state in
            batch.map { IPNetwork(networkBits: $0, prefixLength: 128).network }.filter { !state.reverse.contains($0) }
        }
        guard !unchecked.isEmpty else { return }
        let lookup = self.lookup
        let patterns = state.withLock { $0.reversePatterns }
        let width = 8
        var results: [(IPAddress, String?, ClientListMembership)] = []
        await withTaskGroup(of: (IPAddress, String?, ClientListMembership)?.self) { group in
            let check: @Sendable (IPAddress) async -> (IPAddress, String?, ClientListMembership)? = { address in
                guard let (name, granted) = await DNSLookupPool.run({ Self.check(address, patterns, lookup) })
                else { return nil }
                return (address, name, granted)
            }
            var waiting = unchecked.makeIterator()
            for _ in 0..<width {
                guard let address = waiting.next() else { break }
                group.addTask { await check(address) }
            }
            while let result = await group.next() {
                if let result { results.append(result) }
                if let address = waiting.next() { group.addTask { await check(address) } }
            }
        }
        guard !results.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            for (address, _, granted) in results { state.reverse.record(granted, for: address, at: now) }
            state.reverse.expire(now: now)
            publish(state)
        }
        for (address, name, granted) in results where !granted.isEmpty {
            logger.debug(
                "client lists: \(address) is \(name ?? "?") (forward-confirmed), \(granted)",
                metadata: ["client": "\(address)"]
            )
        }
    }

    /// Forgets the reverse checks older than `dnsRefresh`, so those clients are checked again.
    func expireReverseChecks(now: ContinuousClock.Instant) {
        state.withLock { state in
            if state.reverse.expire(now: now) { publish(state) }
        }
    }

    /// The reverse check of one client (blocking): its PTR name, and the lists whose patterns the name matches if
    /// the name resolves back to the address (empty otherwise).
    static func check(
        _ address: IPAddress,
        _ patterns: [(ClientListMembership, [ReversePattern])],
        _ lookup: DNSLookup
    ) -> (String?, ClientListMembership) {
        guard let name = lookup.reverse(address) else { return (nil, []) }
        var granted: ClientListMembership = []
        for (kind, kindPatterns) in patterns where kindPatterns.contains(where: { $0.matches(name: name) }) {
            granted.insert(kind)
        }
        guard !granted.isEmpty else { return (name, []) }
        guard case .success(let addresses) = lookup.forward(name), addresses.contains(address) else {
            return (name, [])
        }
        return (name, granted)
    }

    /// Publishes a snapshot of `state`; called with the state lock held, so snapshots are published in order.
    private func publish(_ state: State) {
        let snapshot = ClientListsSnapshot(
            table: state.table,
            reverseResults: state.reverse.results,
            checksReverseNames: !state.reversePatterns.isEmpty
        )
        published.withLock { $0 = snapshot }
    }

    /// Serves `lists` from now on (a configuration reload): addresses and CIDRs at once; host names keep the
    /// addresses they had if they were on the old lists, new ones are resolved before this returns; reverse checks
    /// start over (they were made against the old patterns).
    public func replace(lists: AddressLists) async {
        state.withLock { state in
            state.lists = lists
            state.reversePatterns = lists.reversePatterns
            state.hostAddresses = state.hostAddresses.filter { lists.hostNames.contains($0.key) }
            state.table = NetworkTable(lists: lists, hostAddresses: state.hostAddresses)
            state.reverse = ReverseCheckCache(limit: reverseCacheLimit, lifetime: dnsRefresh)
            publish(state)
            empty.store(lists.isEmpty, ordering: .relaxed)
        }
        await refreshHostNames()
    }
}
