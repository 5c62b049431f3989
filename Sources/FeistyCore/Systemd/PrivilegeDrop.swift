#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// Gives up root for good: feisty (every thread: glibc applies set*id to the whole process) and everything it starts
/// from then on run as the account.
public enum PrivilegeDrop {
    /// Hands `path` to `account`: a file (the admin socket), or a directory and the files directly in it (the state
    /// directory: the ban store and its journal), so feisty can still use them once it is no longer root.
    public static func handOver(_ path: String, to account: UserAccount) throws(PrivilegeError) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for file in [path] + entries.map({ "\(path)/\($0)" }) where chown(file, account.userID, account.groupID) != 0 {
            throw PrivilegeError("cannot hand \(file) to \(account.name): \(String(cString: strerror(errno)))")
        }
    }

    /// Becomes `account`: supplementary groups, group, then user; then checks root cannot be regained.
    /// - Throws: ``PrivilegeError`` when a step fails or root is still within reach (feisty must not go on).
    public static func become(_ account: UserAccount) throws(PrivilegeError) {
        let groups = account.groups.isEmpty ? [account.groupID] : account.groups
        guard setgroups(groups.count, groups) == 0 else { throw failure("setgroups", account) }
        guard setgid(account.groupID) == 0 else { throw failure("setgid(\(account.groupID))", account) }
        guard setuid(account.userID) == 0 else { throw failure("setuid(\(account.userID))", account) }
        if account.userID != 0 {
            guard setuid(0) != 0, geteuid() == account.userID, getuid() == account.userID else {
                throw PrivilegeError("feisty could regain root after becoming \(account.name): refusing to go on")
            }
            // glibc changes every thread it knows of; one it skipped (a thread parked halfway through exiting, as
            // an async `main` leaves the main thread) would still be root.
            if let thread = threadsKeepingOtherUsers(account.userID).first {
                throw PrivilegeError("feisty's thread \(thread) is still another user after becoming \(account.name)")
            }
        }
        // What the app expects of its user's environment (it inherits feisty's from now on).
        setenv("HOME", account.home, 1)
        setenv("USER", account.name, 1)
        setenv("LOGNAME", account.name, 1)
    }

    /// The threads (IDs from `/proc/self/task`) whose real, effective, saved or filesystem user ID is not `userID`.
    static func threadsKeepingOtherUsers(_ userID: uid_t) -> [String] {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return threads.filter { thread in
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(thread)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
            else { return false }
            return line.split(whereSeparator: \.isWhitespace).dropFirst().contains { $0 != "\(userID)" }
        }
    }

    private static func failure(_ call: String, _ account: UserAccount) -> PrivilegeError {
        PrivilegeError("cannot become \(account.name): \(call) failed: \(String(cString: strerror(errno)))")
    }
}
