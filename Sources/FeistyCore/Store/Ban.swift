import Foundation

/// Who decided a ban.
public enum BanSource: String, Sendable, Hashable, CaseIterable {
    /// feisty's strike policy.
    case automatic
    /// A person, through `feisty bans add`.
    case manual
}

/// One ban: a key refused from `since` until `until` (`nil`: forever).
public struct Ban: Sendable, Hashable {
    public var key: BanKey
    public var since: Date
    /// The end of the ban; `nil` bans forever.
    public var until: Date?
    /// Why, in a few words (`"5 undeclared paths in 10m"`, or what the person typed).
    public var reason: String
    /// A short summary of the strikes that led to it (paths and count); empty for manual bans.
    public var evidence: String
    public var source: BanSource

    public init(
        key: BanKey,
        since: Date,
        until: Date?,
        reason: String = "",
        evidence: String = "",
        source: BanSource
    ) {
        self.key = key
        self.since = since
        self.until = until
        self.reason = reason
        self.evidence = evidence
        self.source = source
    }

    /// Whether the ban refuses its key at `date`.
    public func isActive(at date: Date) -> Bool {
        guard let until else { return true }
        return date < until
    }
}

/// A ban as the store holds it, with how many automatic bans its key has had (the doubling count).
public struct BanRecord: Sendable, Hashable {
    public var ban: Ban
    /// The automatic bans recorded for the key so far, this one included when it is automatic.
    public var repeatCount: Int

    public init(ban: Ban, repeatCount: Int) {
        self.ban = ban
        self.repeatCount = repeatCount
    }
}

/// The active bans and the store's change generation they were read at (see `BanStore.changes(since:at:)`).
public struct BanSnapshot: Sendable, Hashable {
    public var generation: Int64
    public var bans: [Ban]
}
