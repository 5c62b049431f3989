/// One cached extraction: the key it answers, the stamps of everything it read, and the probe's answer itself.
public struct RouteCacheEntry: Sendable, Hashable, Codable {
    /// The entry format; an entry of another format is ignored (and replaced).
    public static let currentFormat = 1

    public var format: Int
    public var key: RouteCacheKey
    public var stamps: [FileStamp]
    /// The probe's whole answer (the route table document), decoded exactly as a fresh one would be.
    public var answer: String

    /// Creates an entry of the current format.
    public init(key: RouteCacheKey, stamps: [FileStamp], answer: String) {
        format = Self.currentFormat
        self.key = key
        self.stamps = stamps
        self.answer = answer
    }

    /// Whether the entry still answers `key`, given how each stamped path looks now.
    public func freshness(for key: RouteCacheKey, now: (String) -> FileStamp) -> RouteCacheFreshness {
        guard format == Self.currentFormat else { return .otherFormat }
        guard self.key == key else { return .otherKey }
        for stamp in stamps where now(stamp.path) != stamp {
            return .changed(path: stamp.path)
        }
        return .fresh
    }
}

/// ``RouteCacheEntry/freshness(for:now:)``'s verdict.
public enum RouteCacheFreshness: Sendable, Hashable {
    /// Nothing the extraction read has changed: its answer stands.
    case fresh
    /// Written by another version of the cache.
    case otherFormat
    /// Another interpreter, app, directory, probe or environment (a name collision).
    case otherKey
    /// This path is not what it was (changed, replaced, created or removed).
    case changed(path: String)
}
