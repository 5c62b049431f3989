/// How long bans last: `--max-strikes` within `--find-time` bans for `--ban-time`, doubling with each repeat ban of
/// the same client up to `--ban-time-max`; `--ban-time forever` never lifts one; `--dry-run` only says "would ban".
public struct BanPolicy: Sendable, Hashable {
    /// The length of a first ban.
    public enum BanTime: Sendable, Hashable {
        /// This long, doubling per repeat up to `BanPolicy.banTimeMax`.
        case duration(Duration)
        /// Never lifted.
        case forever
    }

    /// Strikes within `findTime` that earn a ban (`--max-strikes`, 5); also what a canary path weighs.
    public let maxStrikes: Int
    /// The window strikes are counted in (`--find-time`, 10 minutes).
    public let findTime: Duration
    /// The first ban's length (`--ban-time`, 10 minutes).
    public let banTime: BanTime
    /// The longest a doubled ban gets (`--ban-time-max`, 1 week).
    public let banTimeMax: Duration
    /// Compute and report bans, refuse nothing (`--dry-run`).
    public let dryRun: Bool

    /// The defaults of the flags.
    public static let standard = BanPolicy()

    /// Creates a policy; `maxStrikes` is at least 1.
    public init(
        maxStrikes: Int = 5,
        findTime: Duration = .seconds(600),
        banTime: BanTime = .duration(.seconds(600)),
        banTimeMax: Duration = .seconds(7 * 86_400),
        dryRun: Bool = false
    ) {
        self.maxStrikes = max(1, maxStrikes)
        self.findTime = findTime
        self.banTime = banTime
        self.banTimeMax = banTimeMax
        self.dryRun = dryRun
    }

    /// The length of a client's `count`-th ban (1-based): `banTime · 2^(count-1)`, at most `banTimeMax` (never less
    /// than `banTime`); `nil` for forever.
    public func banLength(count: Int) -> Duration? {
        guard case .duration(let first) = banTime else { return nil }
        var length = first
        let cap = max(banTimeMax, first)
        for _ in 1..<max(count, 1) {
            if length >= cap { break }
            length = length * 2
        }
        return min(length, cap)
    }

    /// The ban for a client that reached `maxStrikes` at `now`, its `count`-th.
    public func ban(_ client: ClientKey, at now: Duration, count: Int, evidence: [String]) -> BanDecision {
        let until = banLength(count: count).map { now + $0 }
        return BanDecision(client: client, since: now, until: until, count: count, dryRun: dryRun, evidence: evidence)
    }
}
