import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The guard's life off the hot path: makes each ban decision durable in the store before it is enforced, keeps the
/// strike history, applies bans other processes add or remove (`feisty bans`) within a second, and prunes what
/// expired. SQLite work runs on NIO's blocking thread pool, never on an event loop or the cooperative pool.
public final class GuardService: Service, Sendable {
    /// How often the store is asked whether someone else changed the bans.
    static let pollInterval = Duration.milliseconds(250)
    /// How often strikes are written, and expired bans and old strikes pruned.
    static let housekeepingInterval = Duration.seconds(60)

    /// The hot path's side.
    public let clientGuard: ClientGuard
    let store: BanStore
    private let logger: Logger
    /// The store's change generation the published bans reflect: a poll re-reads the bans only when the store moved
    /// past it, and feisty's own bans move it along without a re-read (one re-read of a million bans per ban would
    /// not do).
    private let knownGeneration: Mutex<Int64>
    /// `--ban-action nftables`: the kernel's copy of the bans (`nil`: feisty enforces alone).
    private let nftables: NftablesBanAction?
    /// Strikes noted since feisty started (for metrics).
    public var strikesTotal: Int { clientGuard.counters.strikes }
    /// Bans made (durably) since feisty started (for metrics).
    public var bansTotal: Int { clientGuard.counters.bans }

    /// Opens the store in the configured state directory and loads the bans in force.
    /// - Parameters:
    ///   - configuration: The guard's settings.
    ///   - logger: feisty's log.
    ///   - netAdmin: The thread `nft` is started from (`--user` with `--ban-action nftables`); `nil`: any thread.
    /// - Throws: `StoreError` when the state directory or its database cannot be used.
    public init(
        configuration: GuardConfiguration,
        logger: Logger,
        netAdmin: NetAdminThread? = nil
    ) throws(StoreError) {
        let store = try BanStore(directory: configuration.stateDirectory)
        let snapshot = try store.snapshot(at: Date())
        self.store = store
        self.logger = logger
        self.knownGeneration = Mutex(snapshot.generation)
        // Even empty lists get a resolver (an atomic load per connection while they are empty): a reload may fill them.
        let lists = ClientListsResolver(
            lists: configuration.lists,
            dnsRefresh: configuration.dnsRefresh,
            logger: logger
        )
        self.clientGuard = ClientGuard(configuration: configuration, bans: BanList(snapshot.bans), lists: lists)
        self.nftables = configuration.nftables && !configuration.dryRun ? NftablesBanAction(netAdmin: netAdmin) : nil
        // Strikes survive a restart too: the ones still in the window (and not spent on a ban) count again.
        let findTime = configuration.strikes.policy.findTime.timeInterval
        let strikes = try store.strikesInForce(since: Date().addingTimeInterval(-findTime))
        clientGuard.restore(strikes)
        let mode = configuration.dryRun ? " (dry run: nothing is refused)" : ""
        logger.notice(
            "bans in \(store.path): \(snapshot.bans.count) in force, \(strikes.count) strikes in the window\(mode)"
        )
    }

    /// Resolves the lists' host names and sets up the nftables mirror with the bans in force; awaited before the
    /// proxy listens, so both hold from the first connection.
    /// - Throws: `GuardError.nftablesFailed` when `--ban-action nftables` cannot work (no `nft`, not root).
    public func prepare() async throws(GuardError) {
        await clientGuard.lists?.resolveInitial()
        if let nftables {
            try await nftables.prepare()
            let bans = try? await NIOThreadPool.singleton.runIfActive { [store] in try store.activeBans(at: Date()) }
            try await nftables.load(bans ?? [], now: Date())
            logger.notice("bans mirrored into nftables table inet feisty: \(bans?.count ?? 0)")
        }
    }

    public func run() async throws {
        let pending = StrikeBuffer()
        try await withThrowingDiscardingTaskGroup { group in
            if let lists = clientGuard.lists {
                group.addTask { try await lists.run() }
            }
            group.addTask { [self] in
                for await event in clientGuard.events {
                    await handle(event, strikes: pending)
                }
            }
            group.addTask { [self] in
                var lastHousekeeping = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.pollInterval)
                    await applyOutsideChanges()
                    // Strikes go to disk within a poll: a kill -9 loses at most a quarter of a second of them.
                    collectStrikes(into: pending)
                    await writeStrikes(pending.take())
                    if ContinuousClock.now - lastHousekeeping >= Self.housekeepingInterval {
                        lastHousekeeping = .now
                        await housekeeping()
                    }
                }
            }
            try? await gracefulShutdown()
            clientGuard.finish()
            group.cancelAll()
        }
        collectStrikes(into: pending)
        await writeStrikes(pending.take())
        await nftables?.teardown()
    }

    private func mirror(ban key: BanKey, until: Date?) async {
        guard let nftables else { return }
        do {
            try await nftables.ban(key, for: until.map { .seconds($0.timeIntervalSinceNow) })
        } catch {
            logger.error("\(error)")
        }
    }

    private func unmirror(_ key: BanKey) async {
        guard let nftables else { return }
        do {
            try await nftables.unban(key)
        } catch {
            logger.error("\(error)")
        }
    }

    private func handle(_ event: GuardEvent, strikes: StrikeBuffer) async {
        switch event {
        case .ban(let decision, let date):
            collectStrikes(into: strikes)  // the strikes before the ban are logged before it
            await ban(decision, at: date)
        }
    }

    /// Logs the strikes the hot path noted and queues them for the history.
    private func collectStrikes(into buffer: StrikeBuffer) {
        let maxStrikes = clientGuard.configuration.strikes.policy.maxStrikes
        for note in clientGuard.takeStrikes() {
            buffer.append(Strike(key: note.client.banKey, time: note.date, path: note.path))
            logger.info("strike \(note.count)/\(maxStrikes) for \(note.client): \(note.path)")
        }
    }

    /// Writes the ban, then enforces it: the ban list the hot path reads gains it only once SQLite committed it.
    private func ban(_ decision: BanDecision, at date: Date) async {
        let policy = clientGuard.configuration.strikes.policy
        let key = decision.client.banKey
        let evidence = decision.evidence.joined(separator: " ")
        let canaries = clientGuard.configuration.strikes.canaries
        let canary = decision.evidence.last { canaries.pattern(matching: $0) != nil }
        let paths = decision.evidence.count
        let reason =
            canary.map { "canary path \($0)" }
            ?? "\(paths) undeclared path\(paths == 1 ? "" : "s") in \(DurationText.short(policy.findTime))"
        if decision.dryRun {
            logger.notice("would ban \(decision.client) (\(reason)): \(evidence)")
            return
        }
        let store = self.store
        do {
            // The store's repeat count survives restarts, so a returning scanner's ban doubles across them too.
            let known = knownGeneration.withLock { $0 }
            let (record, generation) = try await NIOThreadPool.singleton.runIfActive {
                () throws -> (BanRecord, Int64?) in
                let count = try store.repeatCount(key: key) + 1
                let until = policy.banLength(count: count).map { date.addingTimeInterval($0.timeInterval) }
                let ban = Ban(
                    key: key,
                    since: date,
                    until: until,
                    reason: reason,
                    evidence: evidence,
                    source: .automatic
                )
                return try store.add(ban, knownGeneration: known)
            }
            let entry = BanList.Entry(key: key, until: record.ban.until?.timeIntervalSince1970 ?? .infinity)
            clientGuard.publish(clientGuard.bans.adding([entry]))
            clientGuard.counters.banned()
            // Nobody else wrote in between: the published list is the store's, no re-read needed.
            if let generation { knownGeneration.withLock { if $0 == known { $0 = generation } } }
            await mirror(ban: key, until: record.ban.until)
            let length = record.ban.until.map { DurationText.short(.seconds($0.timeIntervalSince(date))) } ?? "ever"
            logger.notice(
                "banned \(decision.client) for \(length) (ban #\(record.repeatCount), \(reason)): \(evidence)"
            )
        } catch {
            // Not durable, so not enforced: the client's undeclared requests are still refused by the strike book.
            logger.error("could not record the ban of \(decision.client): \(error)")
        }
    }

    /// Adds a ban by hand (the admin API), as `feisty bans add` does, and returns once the running guard applies it.
    /// - Throws: `StoreError` when the store cannot be written.
    public func add(_ ban: Ban) async throws {
        let store = self.store
        let generation = try await NIOThreadPool.singleton.runIfActive { () throws -> Int64 in
            _ = try store.add(ban)
            return try store.generation()
        }
        clientGuard.counters.banned()
        await applied(generation)
    }

    /// Lifts the ban on exactly `key` (the admin API), as `feisty bans remove` does, and returns once the running
    /// guard applies it.
    /// - Returns: Whether there was such a ban.
    /// - Throws: `StoreError` when the store cannot be written.
    public func remove(_ key: BanKey) async throws -> Bool {
        let store = self.store
        let (removed, generation) = try await NIOThreadPool.singleton.runIfActive { () throws -> (Bool, Int64) in
            (try store.remove(key: key), try store.generation())
        }
        await applied(generation)
        return removed
    }

    /// Waits until the poll applied the store's changes up to `generation` (the poll stays the one place that
    /// publishes outside changes: two appliers racing could publish an older list after a newer one).
    private func applied(_ generation: Int64) async {
        let deadline = ContinuousClock.now + .seconds(5)
        while knownGeneration.withLock({ $0 }) < generation, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Applies bans added or removed by someone else (`feisty bans`, another feisty on the same state directory).
    private func applyOutsideChanges() async {
        let store = self.store
        let generation = knownGeneration.withLock { $0 }
        guard
            let snapshot = try? await NIOThreadPool.singleton.runIfActive({
                try store.changes(since: generation, at: Date())
            })
        else { return }
        let before = Set(clientGuard.bans.entries.map(\.key))
        let after = BanList(snapshot.bans)
        clientGuard.publish(after)
        let remaining = Set(after.entries.map(\.key))
        for removed in before.subtracting(remaining) {
            clientGuard.forgive(removed.network)
            logger.notice("ban on \(removed) lifted")
            await unmirror(removed)
        }
        let ends = Dictionary(snapshot.bans.map { ($0.key, $0.until) }, uniquingKeysWith: { first, _ in first })
        for added in remaining.subtracting(before) {
            logger.notice("ban on \(added) applied from the state directory")
            await mirror(ban: added, until: ends[added] ?? nil)
        }
        knownGeneration.withLock { $0 = snapshot.generation }
    }

    private func housekeeping() async {
        let store = self.store
        let findTime = clientGuard.configuration.strikes.policy.findTime.timeInterval
        _ = try? await NIOThreadPool.singleton.runIfActive {
            let now = Date()
            try store.pruneExpired(before: now)
            // A strike older than the window counts for nothing; a day of history is kept for `bans list`.
            try store.pruneStrikes(before: now.addingTimeInterval(-max(findTime, 86_400)))
        }
    }

    private func writeStrikes(_ strikes: [Strike]) async {
        guard !strikes.isEmpty else { return }
        let store = self.store
        do {
            try await NIOThreadPool.singleton.runIfActive { try store.recordStrikes(strikes) }
        } catch {
            logger.warning("could not record \(strikes.count) strikes: \(error)")
        }
    }
}

/// Strikes waiting to be written in one transaction (SQLite commits cost a disk sync each).
private final class StrikeBuffer: Sendable {
    private let strikes = Mutex<[Strike]>([])

    func append(_ strike: Strike) {
        strikes.withLock { pending in
            // Bounded: a flood of strikes between two writes keeps the newest.
            if pending.count >= 100_000 { pending.removeFirst(pending.count / 2) }
            pending.append(strike)
        }
    }

    func take() -> [Strike] {
        strikes.withLock { pending in
            defer { pending = [] }; return pending
        }
    }
}
