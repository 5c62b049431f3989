#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

#if canImport(CFeistyCapabilities) && os(Linux)
    import CFeistyCapabilities
#endif

/// Gives up root for good: feisty (every thread: glibc applies set*id to the whole process) and everything it starts
/// from then on run as the account, without capabilities; with `--ban-action nftables` one thread of feisty's
/// (``NetAdminThread``, which starts `nft`) keeps `CAP_NET_ADMIN` alone.
public enum PrivilegeDrop {
    /// Hands `path` to `account`: a file (the admin socket), or a directory and the files directly in it (the state
    /// directory: the ban store and its journal), so feisty can still use them once it is no longer root.
    public static func handOver(_ path: String, to account: UserAccount) throws(PrivilegeError) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for file in [path] + entries.map({ "\(path)/\($0)" }) where chown(file, account.userID, account.groupID) != 0 {
            throw PrivilegeError("cannot hand \(file) to \(account.name): \(String(cString: strerror(errno)))")
        }
    }

    /// Becomes `account`: supplementary groups, group, then user; then checks root cannot be regained and that no
    /// thread kept a capability, except `netAdmin` (`--ban-action nftables`), which keeps `CAP_NET_ADMIN` alone.
    /// - Throws: ``PrivilegeError`` when a step fails or root is still within reach (feisty must not go on).
    public static func become(_ account: UserAccount, netAdmin: NetAdminThread? = nil) throws(PrivilegeError) {
        if let netAdmin { try keepCapabilities(on: netAdmin, account) }
        let groups = account.groups.isEmpty ? [account.groupID] : account.groups
        guard setgroups(groups.count, groups) == 0 else { throw failure("setgroups", account) }
        guard setgid(account.groupID) == 0 else { throw failure("setgid(\(account.groupID))", account) }
        guard setuid(account.userID) == 0 else { throw failure("setuid(\(account.userID))", account) }
        if let netAdmin { try keepNetAdminAlone(on: netAdmin, account) }
        if account.userID != 0 {
            guard setuid(0) != 0, geteuid() == account.userID, getuid() == account.userID,
                netAdmin.map({ thread in thread.run { setuid(0) != 0 } }) ?? true
            else {
                throw PrivilegeError("feisty could regain root after becoming \(account.name): refusing to go on")
            }
            // glibc changes every thread it knows of; one it skipped (a thread parked halfway through exiting, as
            // an async `main` leaves the main thread) would still be root.
            if let thread = threadsKeepingOtherUsers(account.userID).first {
                throw PrivilegeError("feisty's thread \(thread) is still another user after becoming \(account.name)")
            }
            let kept = netAdmin.map { [String($0.threadID): Capabilities.netAdminAlone] } ?? [:]
            if let thread = threadsWithCapabilitiesOtherThan(kept).first {
                throw PrivilegeError(
                    "feisty's thread \(thread) holds capabilities it should not after becoming \(account.name)"
                )
            }
        }
        // What the app expects of its user's environment (it inherits feisty's from now on).
        setenv("HOME", account.home, 1)
        setenv("USER", account.name, 1)
        setenv("LOGNAME", account.name, 1)
    }

    /// Before the user changes: `netAdmin`'s thread keeps its permitted capabilities through it.
    private static func keepCapabilities(on netAdmin: NetAdminThread, _ account: UserAccount) throws(PrivilegeError) {
        #if canImport(CFeistyCapabilities) && os(Linux)
            let failed = netAdmin.run { feisty_keep_capabilities(1) == 0 ? nil : errno }
            if let failed {
                throw PrivilegeError(
                    "cannot keep CAP_NET_ADMIN as \(account.name): prctl(PR_SET_KEEPCAPS) failed: "
                        + String(cString: strerror(failed))
                )
            }
        #else
            throw PrivilegeError("--ban-action nftables with --user needs Linux capabilities")
        #endif
    }

    /// After the user changed: `netAdmin`'s thread narrows what it kept to `CAP_NET_ADMIN`.
    private static func keepNetAdminAlone(on netAdmin: NetAdminThread, _ account: UserAccount) throws(PrivilegeError) {
        #if canImport(CFeistyCapabilities) && os(Linux)
            let outcome = netAdmin.run {
                let step = feisty_keep_only_capability(FEISTY_CAP_NET_ADMIN)
                return step == 0 ? nil : (step, errno)
            }
            if let (step, error) = outcome {
                let call = [
                    1: "capget", 2: "capset", 3: "PR_CAPBSET_DROP", 4: "capset", 5: "PR_CAP_AMBIENT",
                    6: "prctl(PR_SET_KEEPCAPS, 0)",
                ]
                throw PrivilegeError(
                    "cannot keep CAP_NET_ADMIN as \(account.name): \(call[Int(step)] ?? "step \(step)") failed: "
                        + String(cString: strerror(error))
                )
            }
        #endif
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

    /// A thread's capability sets, as `/proc/self/task/ID/status` shows them.
    struct Capabilities: Hashable {
        var permitted: UInt64
        var effective: UInt64
        var inheritable: UInt64
        var ambient: UInt64

        /// `CAP_NET_ADMIN` (12) in every set: what the thread that starts `nft` keeps.
        static let netAdminAlone = Capabilities(
            permitted: 1 << 12,
            effective: 1 << 12,
            inheritable: 1 << 12,
            ambient: 1 << 12
        )
    }

    /// The threads (IDs from `/proc/self/task`) whose capabilities are not exactly `expected[ID]`, or, for a thread not
    /// in `expected`, that hold a capability (permitted, effective or ambient).
    static func threadsWithCapabilitiesOtherThan(_ expected: [String: Capabilities]) -> [String] {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return threads.filter { thread in
            // A thread that ended meanwhile holds nothing.
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(thread)/status", encoding: .utf8)
            else { return false }
            var sets: [String: UInt64] = [:]
            for line in status.split(separator: "\n") where line.hasPrefix("Cap") {
                let words = line.split(whereSeparator: \.isWhitespace)
                if words.count == 2, let value = UInt64(words[1], radix: 16) { sets[String(words[0])] = value }
            }
            guard let permitted = sets["CapPrm:"], let effective = sets["CapEff:"], let inheritable = sets["CapInh:"]
            else { return true }
            let held = Capabilities(
                permitted: permitted,
                effective: effective,
                inheritable: inheritable,
                ambient: sets["CapAmb:"] ?? 0
            )
            guard let wanted = expected[thread] else {
                // An inheritable set alone (root's is normally empty) gives nothing: no permitted, no ambient.
                return held.permitted != 0 || held.effective != 0 || held.ambient != 0
            }
            return held != wanted
        }
    }

    private static func failure(_ call: String, _ account: UserAccount) -> PrivilegeError {
        PrivilegeError("cannot become \(account.name): \(call) failed: \(String(cString: strerror(errno)))")
    }
}
