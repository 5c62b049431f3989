/// A value as a configuration file spells it, before it becomes a command-line argument.
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    /// A table, a date or a time: never a flag's value; kept only to name it in an error.
    case unsupported(typeName: String)

    /// The value as one argument (`nil` for a boolean, an array or an unsupported value).
    var argumentText: String? {
        switch self {
        case .string(let text): text
        case .integer(let number): String(number)
        case .float(let number): number.description
        case .boolean, .array, .unsupported: nil
        }
    }

    /// What an error calls this kind of value.
    var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a number"
        case .boolean: "a boolean"
        case .array: "an array"
        case .unsupported(let name): name
        }
    }
}

/// One `key = value` of a configuration file.
public struct ConfigEntry: Sendable, Equatable {
    /// The key as written, with its section: `rate`, `guard.rate`.
    public var key: String
    /// The key's own name, without the section: what names the flag.
    public var name: String
    /// The value.
    public var value: ConfigValue
    /// The 1-based line of the key.
    public var line: Int

    /// Creates an entry; see the properties.
    public init(key: String, name: String, value: ConfigValue, line: Int) {
        self.key = key
        self.name = name
        self.value = value
        self.line = line
    }
}
