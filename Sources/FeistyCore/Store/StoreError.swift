/// Errors of the ban store (`Store/`): opening the state directory and its SQLite file, and the values the
/// `feisty bans` commands hand it.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The state directory cannot be created or written.
    case unwritableDirectory(path: String, reason: String)
    /// The file is not an SQLite database, or SQLite found it damaged.
    case corruptFile(path: String, reason: String)
    /// The file was migrated by a newer feisty: this one does not know its schema and will not touch it.
    case newerSchema(path: String, unknownMigrations: [String])
    /// A ban key that is neither an IP address nor a CIDR block.
    case invalidKey(String)
    /// A ban duration that is not a positive duration or `forever`.
    case invalidDuration(String)
    /// Any other SQLite failure (a full disk, a lock held too long).
    case database(path: String, reason: String)

    public var description: String {
        switch self {
        case .unwritableDirectory(let path, let reason):
            "cannot use the state directory \(path): \(reason) (choose another with --state-dir)"
        case .corruptFile(let path, let reason):
            "the ban store \(path) is not a readable SQLite database (\(reason)); move it aside to start afresh"
        case .newerSchema(let path, let unknown):
            "the ban store \(path) was written by a newer feisty (migrations \(unknown.joined(separator: ", ")) "
                + "are unknown to this version); upgrade feisty or use another --state-dir"
        case .invalidKey(let value):
            "invalid ban key '\(value)': expected an IP address or CIDR block (192.0.2.7, 2001:db8:1:2::/64)"
        case .invalidDuration(let value):
            "invalid ban duration '\(value)': expected a positive duration (30s, 10m, 2h, 7d) or 'forever'"
        case .database(let path, let reason): "the ban store \(path) failed: \(reason)"
        }
    }
}
