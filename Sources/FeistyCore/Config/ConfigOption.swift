/// One flag of a command as a configuration file sees it: the key that sets it and how its value becomes
/// arguments. The executable derives the whole set from ArgumentParser's own definition of the command, so every
/// flag has a key without a list kept by hand.
public struct ConfigOption: Sendable, Hashable {
    /// How a value becomes arguments.
    public enum Kind: Sendable, Hashable {
        /// The positional argument (`app = "app.py"` → `app.py`).
        case positional
        /// An option with one value (`rate = 5` → `--rate=5`).
        case value
        /// A repeatable option (`allow = ["a", "b"]` → `--allow=a --allow=b`).
        case values
        /// A flag (`dry-run = true` → `--dry-run`; `false` → nothing: the flag's default).
        case flag
        /// A flag with a `--no-` inversion (`access-log = false` → `--no-access-log`).
        case invertibleFlag
    }

    /// The key: the flag's long name without dashes (`max-strikes`), or the positional argument's value name.
    public var key: String
    /// How a value becomes arguments.
    public var kind: Kind
    /// Whether a file may set it (`--config` and `--check-config` themselves may not).
    public var allowedInFile: Bool

    /// Creates an option; see the properties.
    public init(key: String, kind: Kind, allowedInFile: Bool = true) {
        self.key = key
        self.kind = kind
        self.allowedInFile = allowedInFile
    }

    /// Whether it takes a value after it on the command line (`--rate 5`).
    var takesValue: Bool { kind == .value || kind == .values }
}

/// The flags of one command, by key.
public struct ConfigOptionSet: Sendable {
    /// Every option, in the command's order.
    public let options: [ConfigOption]
    private let byKey: [String: ConfigOption]

    /// Creates the set.
    public init(_ options: [ConfigOption]) {
        self.options = options
        self.byKey = Dictionary(options.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The option a file's key names: `max_strikes` and `max-strikes` are the same key.
    public func option(forKey key: String) -> ConfigOption? {
        byKey[Self.normalized(key)]
    }

    /// The key closest to `key` when it is close enough to be a typo (edit distance at most a third of its length,
    /// at least 1), for "did you mean".
    public func suggestion(for key: String) -> String? {
        let wanted = Array(Self.normalized(key))
        let limit = max(1, wanted.count / 3)
        var best: (distance: Int, key: String)?
        for option in options where option.allowedInFile {
            let distance = Self.editDistance(wanted, Array(option.key))
            if distance <= limit, distance < (best?.distance ?? .max) { best = (distance, option.key) }
        }
        return best?.key
    }

    static func normalized(_ key: String) -> String {
        key.replacingUnderscores()
    }

    /// Levenshtein distance.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
