import Foundation

/// A configuration file turned into command-line arguments, placed before the real command line's so that
/// ArgumentParser parses and validates both in one pass (the file gets the flags' own checks and messages).
///
/// Flags win: a key whose flag the command line gives too is left out whole (for a repeatable option such as
/// `--allow`, the command line's list replaces the file's; it is not appended to it).
public struct ConfigArguments: Sendable, Equatable {
    /// Where some arguments come from: one key of the file.
    public struct Origin: Sendable, Equatable {
        /// The key as written (`guard.rate`).
        public var key: String
        /// The option's key (`rate`).
        public var optionKey: String
        /// The key's line.
        public var line: Int
        /// The arguments the key becomes (none for a flag set to `false` without an inversion).
        public var arguments: [String]
    }

    /// The file's keys that count, in the file's order.
    public var origins: [Origin]
    /// The option keys the command line sets too (so the file's value is left out).
    public var overridden: [String]

    /// The arguments of every key that counts, in the file's order.
    public var arguments: [String] { origins.flatMap(\.arguments) }

    /// The arguments each option key stands for (what a reload compares to find what changed).
    public var argumentsByKey: [String: [String]] {
        Dictionary(origins.map { ($0.optionKey, $0.arguments) }, uniquingKeysWith: { first, _ in first })
    }

    /// Translates `entries` of `file` for a command with `options`, given the real `commandLine` (after the
    /// subcommand's name).
    /// - Throws: `ConfigError` for an unknown key, a key given twice, or a value of the wrong type.
    public init(
        entries: [ConfigEntry],
        options: ConfigOptionSet,
        commandLine: [String],
        file: String
    ) throws(ConfigError) {
        let given = Self.keysGiven(in: commandLine, options: options)
        var origins: [Origin] = []
        var overridden: [String] = []
        var seen: [String: ConfigEntry] = [:]
        for entry in entries {
            guard let option = options.option(forKey: entry.name), option.allowedInFile else {
                if let option = options.option(forKey: entry.name) {
                    throw ConfigError(
                        file: file,
                        line: entry.line,
                        key: entry.key,
                        message: "--\(option.key) is given on the command line only"
                    )
                }
                throw ConfigError.unknownKey(
                    entry.key,
                    suggestion: options.suggestion(for: entry.name),
                    file: file,
                    line: entry.line
                )
            }
            if let earlier = seen[option.key] {
                throw ConfigError(
                    file: file,
                    line: entry.line,
                    key: entry.key,
                    message: "given twice (also as \"\(earlier.key)\" on line \(earlier.line))"
                )
            }
            seen[option.key] = entry
            if given.contains(option.key) {
                overridden.append(option.key)
                continue
            }
            let arguments = try Self.arguments(for: entry, option: option, file: file)
            origins.append(Origin(key: entry.key, optionKey: option.key, line: entry.line, arguments: arguments))
        }
        self.origins = origins
        self.overridden = overridden
    }

    /// The origin an error message of the command's parser is about: the first key whose flag it names
    /// (`--rate`, `'--rate <rate>'`), `nil` when it names none of the file's.
    public func origin(namedIn message: String) -> Origin? {
        origins.first { origin in
            guard origin.optionKey != "app" || !origin.arguments.isEmpty else { return false }
            var searchStart = message.startIndex
            let flag = "--\(origin.optionKey)"
            while let range = message.range(of: flag, range: searchStart..<message.endIndex) {
                let next = message[range.upperBound...].first
                if next.map({ !($0.isLetter || $0.isNumber || $0 == "-") }) ?? true { return true }
                searchStart = range.upperBound
            }
            return false
        }
    }

    private static func arguments(
        for entry: ConfigEntry,
        option: ConfigOption,
        file: String
    ) throws(ConfigError) -> [String] {
        func wrongType(_ expected: String) -> ConfigError {
            ConfigError(
                file: file,
                line: entry.line,
                key: entry.key,
                message: "expected \(expected), got \(entry.value.typeName)"
            )
        }
        let flag = "--\(option.key)"
        switch option.kind {
        case .positional:
            guard case .string(let text) = entry.value else { throw wrongType("a string") }
            guard !text.hasPrefix("-"), !text.isEmpty else {
                throw ConfigError(
                    file: file,
                    line: entry.line,
                    key: entry.key,
                    message: "must not be empty or start with -"
                )
            }
            return [text]
        case .value:
            guard let text = entry.value.argumentText else { throw wrongType("a string or a number") }
            return ["\(flag)=\(text)"]
        case .values:
            let items: [ConfigValue]
            if case .array(let array) = entry.value { items = array } else { items = [entry.value] }
            return try items.map { (item) throws(ConfigError) in
                guard let text = item.argumentText else { throw wrongType("an array of strings or numbers") }
                return "\(flag)=\(text)"
            }
        case .flag, .invertibleFlag:
            guard case .boolean(let on) = entry.value else { throw wrongType("true or false") }
            if on { return [flag] }
            return option.kind == .invertibleFlag ? ["--no-\(option.key)"] : []
        }
    }

    /// The option keys `commandLine` gives (`--rate 5`, `--rate=5`, `--no-access-log`; a positional argument gives
    /// the positional option's key).
    static func keysGiven(in commandLine: [String], options: ConfigOptionSet) -> Set<String> {
        var given = Set<String>()
        let positional = options.options.first { $0.kind == .positional }?.key
        var index = 0
        while index < commandLine.count {
            let argument = commandLine[index]
            index += 1
            if argument == "--" {
                if index < commandLine.count, let positional { given.insert(positional) }
                break
            }
            guard argument.hasPrefix("--") else {
                if !argument.hasPrefix("-"), let positional { given.insert(positional) }
                continue
            }
            let name = String(argument.dropFirst(2).prefix { $0 != "=" })
            if let option = options.option(forKey: name), option.kind != .positional {
                given.insert(option.key)
                if option.takesValue, !argument.contains("=") { index += 1 }
            } else if name.hasPrefix("no-"), let option = options.option(forKey: String(name.dropFirst(3))),
                option.kind == .invertibleFlag
            {
                given.insert(option.key)
            }
        }
        return given
    }
}
