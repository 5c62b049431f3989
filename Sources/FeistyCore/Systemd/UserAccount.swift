#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A user as the system's account database (`getpwnam`, `getgrnam`, `getgrouplist`) knows it: what feisty becomes
/// with `--user`.
public struct UserAccount: Sendable, Hashable {
    /// The user's name.
    public var name: String
    /// The user ID.
    public var userID: uid_t
    /// The group ID (`--group`, else the user's primary group).
    public var groupID: gid_t
    /// Every group the user belongs to (the supplementary groups), the primary one included.
    public var groups: [gid_t]
    /// The home directory (the app's `HOME`).
    public var home: String

    /// Looks up `name` (or a numeric user ID) and `group` (or a numeric group ID).
    /// - Throws: ``PrivilegeError`` naming the user or group that does not exist.
    public static func lookUp(_ name: String, group: String? = nil) throws(PrivilegeError) -> UserAccount {
        guard let entry = getpwnam(name) ?? UInt32(name).flatMap({ getpwuid($0) }) else {
            throw PrivilegeError("--user \(name): no such user")
        }
        let userName = String(cString: entry.pointee.pw_name)
        let userID = entry.pointee.pw_uid
        var groupID = entry.pointee.pw_gid
        let home = String(cString: entry.pointee.pw_dir)
        if let group {
            guard let found = getgrnam(group) ?? UInt32(group).flatMap({ getgrgid($0) }) else {
                throw PrivilegeError("--group \(group): no such group")
            }
            groupID = found.pointee.gr_gid
        }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(userName, groupID, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(userName, groupID, &groups, &count)
        }
        return UserAccount(
            name: userName,
            userID: userID,
            groupID: groupID,
            groups: Array(groups.prefix(Int(max(0, count)))),
            home: home
        )
    }
}
