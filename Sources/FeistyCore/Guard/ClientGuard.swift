import Foundation
import NIOCore
import Synchronization

/// The guard as the proxy's event loops see it: judges each new connection and each request head from the bans in
/// force and the strike book, inline and without awaiting. Bans are enforced only once durable: the hot path hands a
/// ban decision to `GuardService`, which writes it to the store and then publishes the new `BanList` here.
///
/// Shared by every event loop. A declared route from a client in good standing costs one lock-free flag read and a
/// short uncontended lock for the ban list; only undeclared requests take the strike book's lock.
///
/// A configuration reload changes the limits, lists and policy live (``apply(_:)``): what the hot path reads of
/// them is either under a lock it takes anyway (the strike book's policy, the lists' snapshot) or in atomics only a
/// reload writes (`--dry-run`, `--ban-response`, whether `--rate` is on, the rate and burst), so a reload adds no
/// lock and no contended cache line to a request.
public final class ClientGuard: Sendable {
    /// The settings in force (a reload replaces the live ones; the others stay as started).
    public var configuration: GuardConfiguration { settings.withLock { $0 } }
    private let settings: Mutex<GuardConfiguration>
    /// `--dry-run`, `--ban-response close` and whether `--rate` is on, as bits (`Modes`): one relaxed load.
    private let modes: Atomic<UInt8>
    /// `--ipv6-prefix` (a restart changes it: keys already counted would no longer match).
    private let ipv6Prefix: Int
    private let book: Mutex<StrikeBook>
    private let published: Mutex<BanList>
    /// Whether any ban is in force (a plain flag read skips the lookup for the common case: no bans at all).
    private let anyBans: Atomic<Bool>
    /// The monotonic clock's zero for the strike book.
    private let epoch = NIODeadline.now()
    let events: AsyncStream<GuardEvent>
    private let continuation: AsyncStream<GuardEvent>.Continuation
    /// New strikes since the service last took them (bounded: a flood keeps the newest).
    private let strikes = Mutex<[StrikeNote]>([])
    static let pendingStrikeLimit = 100_000
    /// `--rate`/`--burst`; consulted only while `Modes.rateLimited` is set.
    private let rateLimiter: ClientRateLimiter
    /// `--max-conns-per-client` (`nil`: no limit).
    private let connections: ConnectionCounter?
    /// `--allow`, `--deny`, `--priority` (`nil`: no lists).
    let lists: ClientListsResolver?
    /// Clients served before (what a clean history is), for the admission queue's classes; bounded.
    private let seen = Mutex(Set<ClientKey>())
    /// Requests waiting in the admission queue, per client (a client with one waiting already queues last).
    private let waiting = ConnectionCounter(max: Int.max)
    static let seenLimit = 100_000
    /// Strikes, refusals, throttles and bans since start (for `/status`).
    public let counters = GuardCounters()

    /// Creates the guard with the bans loaded from the store.
    public init(configuration: GuardConfiguration, bans: BanList = .empty, lists: ClientListsResolver? = nil) {
        self.settings = Mutex(configuration)
        self.modes = Atomic(Modes(configuration).rawValue)
        self.ipv6Prefix = configuration.ipv6Prefix
        self.lists = lists
        self.book = Mutex(configuration.strikes)
        self.published = Mutex(bans)
        self.anyBans = Atomic(bans.count > 0)
        let rate = configuration.rate ?? (perSecond: 1, burst: 1)
        self.rateLimiter = ClientRateLimiter(rate: rate.perSecond, burst: rate.burst)
        self.connections = configuration.maxConnectionsPerClient.map { ConnectionCounter(max: $0) }
        // Unbounded: a ban or strike is a few dozen bytes, and the service drains them as fast as SQLite commits.
        (events, continuation) = AsyncStream.makeStream(of: GuardEvent.self)
    }

    /// The bits the hot path reads of the live settings.
    private struct Modes: OptionSet {
        let rawValue: UInt8
        static let dryRun = Modes(rawValue: 1)
        static let closeBanned = Modes(rawValue: 2)
        static let rateLimited = Modes(rawValue: 4)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init(_ configuration: GuardConfiguration) {
            var modes: Modes = []
            if configuration.dryRun { modes.insert(.dryRun) }
            if configuration.banResponse == .close { modes.insert(.closeBanned) }
            if configuration.rate != nil { modes.insert(.rateLimited) }
            self = modes
        }
    }

    private var mode: Modes { Modes(rawValue: modes.load(ordering: .relaxed)) }

    /// Applies the live settings of `new` (a configuration reload): `--rate`/`--burst`, `--allow`/`--deny`/
    /// `--priority`, the strike and ban policy (`--max-strikes`, `--find-time`, `--ban-time`, `--ban-time-max`,
    /// `--strike-405`, `--canary-file`), `--dry-run` and `--ban-response`. The others (state directory,
    /// `--ipv6-prefix`, `--ban-action`, `--max-conns-per-client`, `--dns-refresh`) keep their running values.
    /// Strikes, bans and the clients' buckets' debts are kept; a client's bucket takes the new rate at its next
    /// request (as a fresh one).
    public func apply(_ new: GuardConfiguration) async {
        settings.withLock { current in
            current.strikes.adoptSettings(of: new.strikes)
            current.rate = new.rate
            current.lists = new.lists
            current.banResponse = new.banResponse
        }
        book.withLock { $0.adoptSettings(of: new.strikes) }
        if let rate = new.rate { rateLimiter.retune(rate: rate.perSecond, burst: rate.burst) }
        modes.store(Modes(new).rawValue, ordering: .relaxed)
        await lists?.replace(lists: new.lists)
    }

    /// The bans in force.
    public var bans: BanList { published.withLock { $0 } }

    /// Replaces the bans in force (the service, after a durable change).
    func publish(_ bans: BanList) {
        published.withLock { $0 = bans }
        anyBans.store(bans.count > 0, ordering: .releasing)
    }

    /// Forgets the strikes and the in-memory ban of the clients in `network` (a ban removed by hand).
    func forgive(_ network: IPNetwork) {
        book.withLock { $0.forgive(network) }
    }

    /// Puts strikes from the history back into the strike book (at start: strikes survive a restart).
    func restore(_ strikes: [Strike], now: Date = Date()) {
        let elapsed = Duration.nanoseconds((NIODeadline.now() - epoch).nanoseconds)
        book.withLock { book in
            for strike in strikes {
                let age = Duration.milliseconds(Int64(now.timeIntervalSince(strike.time) * 1000))
                book.restore(client: ClientKey(banKey: strike.key), path: strike.path, at: elapsed - age)
            }
        }
    }

    /// The strikes noted since the last call, oldest first.
    func takeStrikes() -> [StrikeNote] {
        strikes.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
    }

    /// Stops the event stream (the service ends).
    func finish() { continuation.finish() }

    /// Judges a new connection from `peer` (`nil`: not an IP peer), before a byte is read. A trusted proxy is never
    /// turned away: the clients behind it are judged per request.
    ///
    /// A connection judged `.serve` and counted against `--max-conns-per-client` must be handed to
    /// `connectionClosed(peer:)` when it closes.
    func judge(connectionFrom peer: IPAddress?, peerTrusted: Bool) -> ConnectionVerdict {
        let mode = self.mode
        guard let peer, !peerTrusted, !mode.contains(.dryRun) else { return .serve }
        let membership = lists?.membership(of: peer) ?? []
        if membership.contains(.allowed) { return .serve }
        if mode.contains(.closeBanned), membership.contains(.denied) || isBanned(peer) {
            counters.refused()
            return .closeBanned
        }
        if let connections, !connections.open(key(peer)) { return .closeTooMany }
        return .serve
    }

    /// Whether a connection from `peer` (not a trusted proxy) is turned away before it is set up: banned or denied,
    /// under `--ban-response close`.
    func refusesAtAccept(_ peer: IPAddress) -> Bool {
        let mode = self.mode
        guard !mode.contains(.dryRun), mode.contains(.closeBanned) else { return false }
        let membership = lists?.membership(of: peer) ?? []
        if membership.contains(.allowed) { return false }
        return membership.contains(.denied) || isBanned(peer)
    }

    /// Whether connections from `peer` are counted (so `connectionClosed` must follow their close).
    func countsConnections(of peer: IPAddress?, peerTrusted: Bool) -> Bool {
        guard connections != nil, let peer, !peerTrusted, !mode.contains(.dryRun) else { return false }
        return !(lists?.membership(of: peer).contains(.allowed) ?? false)
    }

    /// A connection judged `.serve` closed: it no longer counts against `--max-conns-per-client`.
    func connectionClosed(peer: IPAddress) {
        connections?.close(key(peer))
    }

    /// Judges one request head.
    /// - Parameters:
    ///   - client: The client's address (`nil`: not an IP client; never judged).
    ///   - target: The request target as sent.
    ///   - verdict: The route gate's verdict.
    ///   - now: When the head arrived.
    func judge(
        request client: IPAddress?,
        target: String,
        verdict: RouteGateDecision,
        now: NIODeadline
    ) -> RequestVerdict {
        guard let client else { return .pass }
        let membership = lists?.membership(of: client) ?? []
        // Allowed clients are never struck, banned or throttled.
        if membership.contains(.allowed) { return .pass }
        let mode = self.mode
        if !mode.contains(.dryRun), membership.contains(.denied) || isBanned(client) {
            counters.refused()
            return .banned(closeSilently: mode.contains(.closeBanned))
        }
        let elapsed = Duration.nanoseconds((now - epoch).nanoseconds)
        if mode.contains(.rateLimited), !mode.contains(.dryRun),
            let seconds = rateLimiter.check(key(client), at: elapsed).retryAfterSeconds
        {
            counters.throttled()
            return .throttled(retryAfterSeconds: seconds)
        }
        switch verdict {
        // A host Werkzeug cannot bind is a malformed request (feisty answers 400), not an undeclared URL: no strike.
        case .forward, .badHost: return .pass
        case .notFound, .methodNotAllowed: break
        }
        let key = key(client)
        let action = book.withLock { $0.record(client: key, target: target, verdict: verdict, at: elapsed) }
        switch action {
        case .none, .refuse:
            counters.refused()
            return .refuseUndeclared
        case .strike(let count):
            counters.struck()
            let path = String(target.prefix { $0 != "?" && $0 != "#" })
            let note = StrikeNote(client: key, path: path, count: count, date: Date())
            strikes.withLock { pending in
                if pending.count >= Self.pendingStrikeLimit { pending.removeFirst(pending.count / 2) }
                pending.append(note)
            }
            if count > 1 { counters.refused() }
            return count == 1 ? .forwardUndeclared : .refuseUndeclared
        case .ban(let decision):
            counters.struck()
            counters.refused()
            continuation.yield(.ban(decision, at: Date()))
            return .refuseUndeclared
        }
    }

    /// The class a request from `client` waits in when the app is at `--app-concurrency` (read only then): a
    /// `--priority` peer first, then a client served before without strikes in the window, then a new one, then
    /// one with strikes or with another request waiting already. Marks the client as seen.
    func priority(of client: IPAddress?, now: NIODeadline) -> PriorityClass {
        guard let client else { return .unknown }
        let isPriorityPeer = lists?.membership(of: client).contains(.priority) ?? false
        let key = key(client)
        let elapsed = Duration.nanoseconds((now - epoch).nanoseconds)
        let strikes = book.withLock { $0.strikes(of: key, at: elapsed) }
        let hasHistory = seen.withLock { seen in
            if seen.contains(key) { return true }
            // Forgetting everyone at once is crude but bounded: they count as new once, then as seen again.
            if seen.count >= Self.seenLimit { seen.removeAll(keepingCapacity: true) }
            seen.insert(key)
            return false
        }
        let alreadyWaiting = waiting.openConnections(of: key) > 0
        return .of(
            isPriorityPeer: isPriorityPeer,
            strikes: strikes,
            hasHistory: hasHistory,
            alreadyWaiting: alreadyWaiting
        )
    }

    /// A request of `client` started waiting in the admission queue; `stoppedWaiting` must follow.
    func startedWaiting(_ client: IPAddress) {
        _ = waiting.open(key(client))
    }

    /// A request of `client` stopped waiting (admitted, timed out, shed, or its client left).
    func stoppedWaiting(_ client: IPAddress) {
        waiting.close(key(client))
    }

    /// The clients with the most strikes in the window, most first (for `/status`; takes the strike book's lock for
    /// one pass over the clients it tracks).
    public func topOffenders(limit: Int) -> [(client: ClientKey, strikes: Int)] {
        let elapsed = Duration.nanoseconds((NIODeadline.now() - epoch).nanoseconds)
        return book.withLock { $0.offenders(limit: limit, at: elapsed) }
    }

    private func key(_ address: IPAddress) -> ClientKey {
        ClientKey(address: address, ipv6Prefix: ipv6Prefix)
    }

    private func isBanned(_ address: IPAddress) -> Bool {
        guard anyBans.load(ordering: .acquiring) else { return false }
        return published.withLock { $0 }.ban(covering: address) != nil
    }
}
