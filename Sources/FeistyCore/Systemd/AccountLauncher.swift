#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts a child process as another account (`--user`'s route probe): through `feisty exec-as`, a fresh feisty
/// process that sets its groups and user, then execs the program.
///
/// Not through swift-subprocess's `userID`/`groupID`: on Linux it starts the child with a raw `clone3` and then calls
/// glibc's `setgroups`/`setgid`/`setuid` in it, which signal every thread the parent had and can wait forever for one
/// that the child does not have (seen here about once in six probes as root). A fresh process has no such threads.
public struct AccountLauncher: Sendable, Hashable {
    /// The account the program runs as.
    public var account: UserAccount
    /// feisty's own executable (the one that has `exec-as`).
    public var feisty: String

    /// The subcommand's name (hidden from `feisty --help`).
    public static let subcommand = "exec-as"

    /// - Parameters:
    ///   - account: The account to become.
    ///   - feisty: feisty's executable (default: this process's own).
    public init(account: UserAccount, feisty: String = ExecutablePaths.ownExecutable()) {
        self.account = account
        self.feisty = feisty
    }

    /// The words that run `program` as the account: put before the program and its arguments.
    public var prefix: [String] {
        let groups = (account.groups.isEmpty ? [account.groupID] : account.groups).map(String.init)
        return [
            feisty, Self.subcommand, "--uid", String(account.userID), "--gid", String(account.groupID), "--groups",
            groups.joined(separator: ","), "--",
        ]
    }

    /// What the program expects of its user's environment.
    public var environment: [String: String] {
        ["HOME": account.home, "USER": account.name, "LOGNAME": account.name]
    }

    /// `feisty exec-as`: becomes `userID` (with `groupID` and `groups`), checks root cannot be regained, then replaces
    /// this process with `arguments` (the first looked up in `PATH`). Returns only on failure, with the reason.
    public static func execute(userID: uid_t, groupID: gid_t, groups: [gid_t], arguments: [String]) -> String {
        guard !arguments.isEmpty else { return "no program to run" }
        guard setgroups(groups.count, groups) == 0 else { return "setgroups: \(String(cString: strerror(errno)))" }
        guard setgid(groupID) == 0 else { return "setgid(\(groupID)): \(String(cString: strerror(errno)))" }
        guard setuid(userID) == 0 else { return "setuid(\(userID)): \(String(cString: strerror(errno)))" }
        if userID != 0, setuid(0) == 0 || geteuid() != userID {
            return "root could be regained after setuid(\(userID))"
        }
        var argv = arguments.map { strdup($0) }
        argv.append(nil)
        execvp(arguments[0], argv)
        return "cannot run \(arguments[0]): \(String(cString: strerror(errno)))"
    }
}
