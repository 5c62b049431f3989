/// Why feisty refuses to run with the privileges it was given (`--user`, `--group`, `--allow-root-app`).
public struct PrivilegeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The explanation, naming the flags that change the outcome.
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
