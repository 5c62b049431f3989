/// What goes wrong with the admin listener or the `feisty status` client.
public enum AdminError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `--admin` is neither `HOST:PORT`, `unix:PATH` nor `off`.
    case invalidAddress(String)
    /// The listener cannot bind.
    case cannotBind(String, reason: String)
    /// `--admin-token-file` cannot be read, or the token is empty.
    case badToken(String)
    /// `feisty status`: nothing answers at the address.
    case notRunning(String)
    /// `feisty status`: something answered, but not with a status.
    case badAnswer(String)

    public var description: String {
        switch self {
        case .invalidAddress(let text):
            "--admin \(text): expected HOST:PORT, unix:PATH or off"
        case .cannotBind(let address, let reason):
            "cannot listen for the admin API on \(address): \(reason) (--admin chooses another address, or off)"
        case .badToken(let why):
            "admin token: \(why)"
        case .notRunning(let address):
            "no feisty admin listener on \(address): is feisty running? (--admin)"
        case .badAnswer(let why):
            "the admin listener answered oddly: \(why)"
        }
    }
}
