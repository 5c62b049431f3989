/// What is wrong with a configuration file (`feisty run --config FILE`): always names the file, and the line and
/// key when one is to blame, as `feisty.toml:9: rate: --rate must be a positive number of requests per second`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as given to `--config`.
    public var file: String
    /// The 1-based line to blame (`nil`: the file as a whole, e.g. it cannot be read).
    public var line: Int?
    /// The key to blame, as written in the file (`nil`: the message names it itself, or no key is to blame).
    public var key: String?
    /// What is wrong.
    public var message: String

    /// Creates an error; see the properties.
    public init(file: String, line: Int?, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: KEY: MESSAGE`, leaving out what is unknown.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }

    /// A key no flag of the command has, with the closest one when a key is close enough to be a typo.
    static func unknownKey(_ key: String, suggestion: String?, file: String, line: Int) -> ConfigError {
        let hint = suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""
        return ConfigError(file: file, line: line, message: "unknown key \"\(key)\"\(hint)")
    }
}
