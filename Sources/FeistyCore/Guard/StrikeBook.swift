/// Per client, the distinct undeclared paths it asked for in the `--find-time` window, and the bans they earned.
///
/// A strike is a request the app's router would answer 404 (`RouteGateDecision.notFound`) or 405 (unless
/// `--strike-405 0`) whose path (the target up to `?`) the client has not been struck for in the window: an outdated
/// API client calling one removed endpoint every minute is one strike; a scanner walking a word list is many. A
/// request that matches a declared route is never a strike, whatever the app answers, and neither is a path browsers
/// ask for on their own (`BrowserPaths`). An undeclared canary path (`CanaryPaths`) weighs `maxStrikes` at once.
///
/// Memory is bounded: at most `maxPathsPerClient` paths per client (the oldest is forgotten first, which can only
/// lower a count that is already that high) and `maxClients` clients with strikes, and as many repeat counts (when
/// full, clients whose strikes all left the window go first, then the sixteenth seen longest ago; repeat counts go
/// oldest ban first). Active bans are never evicted: they are the ban list.
///
/// Time is a `Duration` since any fixed epoch the caller chooses (a monotonic clock, or log timestamps in replay);
/// it must not go backwards for one client.
public struct StrikeBook: Sendable {
    /// Durations and thresholds.
    public private(set) var policy: BanPolicy
    /// The canary patterns.
    public private(set) var canaries: CanaryPaths
    /// Whether a 405 is a strike (`--strike-405`, on by default).
    public private(set) var strike405: Bool
    /// How many clients are tracked at most.
    public let maxClients: Int
    /// How many distinct paths are kept per client at most.
    public let maxPathsPerClient: Int

    private struct Sighting {
        var struck: Duration
        var lastSeen: Duration
        var weight: Int
    }

    private struct ClientStrikes {
        var paths: [String: Sighting] = [:]
        var lastSeen: Duration
        /// The sum of the paths' weights.
        var weight = 0
        /// No path was seen before this (a lower bound): until it leaves the window, nothing needs pruning.
        var oldestSeen: Duration

        init(lastSeen: Duration) {
            self.lastSeen = lastSeen
            self.oldestSeen = lastSeen
        }

        mutating func prune(at now: Duration, window: Duration) {
            guard now - oldestSeen >= window else { return }
            paths = paths.filter { now - $0.value.lastSeen < window }
            weight = paths.values.reduce(0) { $0 + $1.weight }
            oldestSeen = paths.values.map(\.lastSeen).min() ?? now
        }

        mutating func insert(_ path: String, _ sighting: Sighting) {
            if let previous = paths.updateValue(sighting, forKey: path) { weight -= previous.weight }
            weight += sighting.weight
            oldestSeen = min(oldestSeen, sighting.lastSeen)
        }

        mutating func remove(_ path: String) {
            if let previous = paths.removeValue(forKey: path) { weight -= previous.weight }
        }
    }

    private struct RepeatCount {
        var count: Int
        var lastBan: Duration
    }

    private var clients: [ClientKey: ClientStrikes] = [:]
    private var repeats: [ClientKey: RepeatCount] = [:]
    private var bans: [ClientKey: BanDecision] = [:]

    /// Takes the policy, the canary paths and `--strike-405` of `settings` (a configuration reload), keeping the
    /// strikes, repeat counts and bans recorded so far (they are judged by the new policy from now on).
    public mutating func adoptSettings(of settings: StrikeBook) {
        policy = settings.policy
        canaries = settings.canaries
        strike405 = settings.strike405
    }

    /// Creates an empty book.
    public init(
        policy: BanPolicy = .standard,
        canaries: CanaryPaths = .builtIn,
        strike405: Bool = true,
        maxClients: Int = 100_000,
        maxPathsPerClient: Int = 256
    ) {
        self.policy = policy
        self.canaries = canaries
        self.strike405 = strike405
        self.maxClients = max(1, maxClients)
        self.maxPathsPerClient = max(1, maxPathsPerClient)
    }

    /// Judges one request and remembers what it needs to.
    /// - Parameters:
    ///   - client: The client's key.
    ///   - target: The request target as sent (`/path?query`).
    ///   - verdict: The gate's verdict for it (`RouteMatcher.gate`).
    ///   - now: The request's time.
    /// - Returns: What to do with the request.
    public mutating func record(
        client: ClientKey,
        target: String,
        verdict: RouteGateDecision,
        at now: Duration
    ) -> StrikeAction {
        if let ban = bans[client] {
            if ban.holds(at: now) { return .refuse(ban) }
            bans[client] = nil
        }
        switch verdict {
        case .forward, .badHost: return .none
        case .notFound: break
        case .methodNotAllowed: if !strike405 { return .none }
        }
        if BrowserPaths.contains(target) { return .none }
        let weight = canaries.pattern(matching: target) == nil ? 1 : policy.maxStrikes
        let path = String(target.prefix { $0 != "?" && $0 != "#" })

        // Taken out of the dictionary while it changes, so its paths are not copied (copy on write) per request.
        if clients[client] == nil { makeRoomForClient(at: now) }
        var strikes = clients.removeValue(forKey: client) ?? ClientStrikes(lastSeen: now)
        strikes.lastSeen = now
        strikes.prune(at: now, window: policy.findTime)
        if strikes.paths[path] != nil {
            strikes.paths[path]?.lastSeen = now
            clients[client] = strikes
            return .none
        }
        if strikes.paths.count >= maxPathsPerClient,
            let oldest = strikes.paths.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key
        {
            strikes.remove(oldest)
        }
        strikes.insert(path, Sighting(struck: now, lastSeen: now, weight: weight))
        let count = strikes.weight
        guard count >= policy.maxStrikes else {
            clients[client] = strikes
            return .strike(count: count)
        }
        let evidence = strikes.paths.sorted { $0.value.struck < $1.value.struck }.map(\.key)
        clients[client] = nil
        let repeatCount = (repeats[client]?.count ?? 0) + 1
        if repeats[client] == nil { makeRoomForRepeat() }
        repeats[client] = RepeatCount(count: repeatCount, lastBan: now)
        let ban = policy.ban(client, at: now, count: repeatCount, evidence: evidence)
        if !policy.dryRun { bans[client] = ban }
        return .ban(ban)
    }

    /// The client's weighted strikes in the window at `now`.
    public func strikes(of client: ClientKey, at now: Duration) -> Int {
        guard let strikes = clients[client] else { return 0 }
        return strikes.paths.values.reduce(0) { now - $1.lastSeen < policy.findTime ? $0 + $1.weight : $0 }
    }

    /// The client's ban holding at `now`, if any.
    public func ban(of client: ClientKey, at now: Duration) -> BanDecision? {
        guard let ban = bans[client], ban.holds(at: now) else { return nil }
        return ban
    }

    /// Puts back a strike from the history (a restart): the path counts for the client from `time` on, as if it had
    /// just been struck then; no ban is decided here (the next strike decides, as it would have).
    public mutating func restore(client: ClientKey, path: String, at time: Duration) {
        let weight = canaries.pattern(matching: path) == nil ? 1 : policy.maxStrikes
        if clients[client] == nil { makeRoomForClient(at: time) }
        var strikes = clients.removeValue(forKey: client) ?? ClientStrikes(lastSeen: time)
        strikes.lastSeen = max(strikes.lastSeen, time)
        if strikes.paths[path] == nil, strikes.paths.count < maxPathsPerClient {
            strikes.insert(path, Sighting(struck: time, lastSeen: time, weight: weight))
        }
        clients[client] = strikes
    }

    /// Forgets a client's strikes and ban (its ban was removed by hand: it starts over), and the strikes and bans of
    /// every client inside `network`.
    public mutating func forgive(_ network: IPNetwork) {
        clients = clients.filter { !network.contains($0.key.network.network) }
        bans = bans.filter { !network.contains($0.key.network.network) }
    }

    /// The `limit` clients with the most strikes in the window at `now`, most first (ties: by address).
    public func offenders(limit: Int, at now: Duration) -> [(client: ClientKey, strikes: Int)] {
        var all: [(client: ClientKey, strikes: Int)] = []
        for client in clients.keys {
            let count = strikes(of: client, at: now)
            if count > 0 { all.append((client, count)) }
        }
        all.sort { ($0.strikes, $1.client.banKey) > ($1.strikes, $0.client.banKey) }
        return Array(all.prefix(limit))
    }

    /// How many clients have strikes on record (expired ones included until they are evicted).
    public var trackedClients: Int { clients.count }

    private mutating func makeRoomForClient(at now: Duration) {
        guard clients.count >= maxClients else { return }
        let findTime = policy.findTime
        clients = clients.filter { now - $0.value.lastSeen < findTime }
        guard clients.count >= maxClients else { return }
        // Evict a sixteenth at once, so a flood of new clients sorts once per many arrivals, not once per arrival.
        let excess = clients.count - maxClients + 1 + maxClients / 16
        for oldest in clients.sorted(by: { $0.value.lastSeen < $1.value.lastSeen }).prefix(excess) {
            clients[oldest.key] = nil
        }
    }

    private mutating func makeRoomForRepeat() {
        guard repeats.count >= maxClients else { return }
        let excess = repeats.count - maxClients + 1 + maxClients / 16
        for oldest in repeats.sorted(by: { $0.value.lastBan < $1.value.lastBan }).prefix(excess) {
            repeats[oldest.key] = nil
        }
    }
}
