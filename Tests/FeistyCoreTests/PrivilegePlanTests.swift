import Foundation
import Testing

@testable import FeistyCore

/// Who feisty and the app run as: decided from the flags and feisty's own user, before anything starts.
@Suite struct PrivilegePlanTests {
    typealias Request = PrivilegePlan.Request

    @Test(
        arguments: [
            // Not root: nothing to give up, whatever the mode.
            (Request(effectiveUserID: 1000, user: nil), PrivilegePlan.unchanged),
            (Request(effectiveUserID: 1000, user: nil, upstream: true), .unchanged),
            (Request(effectiveUserID: 1000, user: nil, nftables: true), .unchanged),
            (Request(effectiveUserID: 1000, user: nil, allowRootApp: true, upstream: true), .unchanged),
            // Root on purpose: the app runs as root, or (--upstream) its import does.
            (Request(effectiveUserID: 0, user: nil, allowRootApp: true), .root),
            (Request(effectiveUserID: 0, user: nil, allowRootApp: true, upstream: true), .root),
            // Root with --user: bind, then become the user (and the group asked for).
            (Request(effectiveUserID: 0, user: "www"), .drop(user: "www", group: nil)),
            (Request(effectiveUserID: 0, user: "www", group: "web"), .drop(user: "www", group: "web")),
            // --ban-action nftables with --user: the thread that starts nft keeps CAP_NET_ADMIN through the drop.
            (
                Request(effectiveUserID: 0, user: "www", nftables: true),
                .drop(user: "www", group: nil, keepingNetAdmin: true)
            ),
            (
                Request(effectiveUserID: 0, user: "www", upstream: true, nftables: true),
                .drop(user: "www", group: nil, keepingNetAdmin: true)
            ),
            // Without --user nothing is dropped, so nothing needs keeping.
            (Request(effectiveUserID: 0, user: nil, allowRootApp: true, nftables: true), .root),
            // --upstream with --user: the probe imports the app as the user; feisty drops once it listens (the
            // address comes from the probe's table, so it is always known before the bind).
            (Request(effectiveUserID: 0, user: "www", upstream: true), .drop(user: "www", group: nil)),
            (
                Request(effectiveUserID: 0, user: "www", group: "web", upstream: true, publicAddressKnown: false),
                .drop(user: "www", group: "web")
            ),
        ]
    )
    func decides(request: Request, plan: PrivilegePlan) throws {
        #expect(try PrivilegePlan.decide(request) == plan)
    }

    @Test(
        arguments: [
            // (request, words the refusal must contain: the flags that change the outcome)
            (Request(effectiveUserID: 0, user: nil), ["--user USER", "--allow-root-app"]),
            (Request(effectiveUserID: 0, user: nil, publicAddressKnown: false), ["--user USER", "--allow-root-app"]),
            (Request(effectiveUserID: 1000, user: "www"), ["--user www", "needs feisty started as root", "1000"]),
            // Root with --upstream imports the app for its routes: refused, naming every way out.
            (
                Request(effectiveUserID: 0, user: nil, upstream: true),
                ["import the app as root", "--upstream", "--user USER", "--allow-root-app"]
            ),
            (
                Request(effectiveUserID: 1000, user: "www", upstream: true),
                ["--user www", "needs feisty started as root"]
            ),
            (Request(effectiveUserID: 0, user: "www", publicAddressKnown: false), ["--listen HOST:PORT"]),
        ] as [(Request, [String])]
    )
    func refuses(request: Request, words: [String]) {
        #expect {
            try PrivilegePlan.decide(request)
        } throws: { error in
            let message = (error as? PrivilegeError)?.message ?? ""
            return words.allSatisfy { message.contains($0) }
        }
    }

    /// The account comes from the system's database (`getpwnam`): the real one, here.
    @Test func theAccountIsLookedUpOnlyForADrop() throws {
        #expect(try PrivilegePlan.root.account == nil)
        #expect(try PrivilegePlan.unchanged.account == nil)
        let nobody = try #require(try PrivilegePlan.drop(user: "nobody", group: nil).account)
        let entry = try #require(getpwnam("nobody"))
        #expect(nobody.name == "nobody")
        #expect(nobody.userID == entry.pointee.pw_uid)
        #expect(nobody.groupID == entry.pointee.pw_gid)
        #expect(nobody.groups.contains(entry.pointee.pw_gid))
        #expect(nobody.home == String(cString: entry.pointee.pw_dir))
        // A numeric ID names the same user; --group changes the group, not the user.
        #expect(try UserAccount.lookUp("\(entry.pointee.pw_uid)").name == "nobody")
        #expect(try UserAccount.lookUp("nobody", group: "0").groupID == 0)
    }

    @Test(
        arguments: [
            (PrivilegePlan.drop(user: "no-such-user-feisty", group: nil), "--user no-such-user-feisty: no such user"),
            (.drop(user: "nobody", group: "no-such-group-feisty"), "--group no-such-group-feisty: no such group"),
        ]
    )
    func anUnknownUserOrGroupIsNamed(plan: PrivilegePlan, message: String) {
        #expect(throws: PrivilegeError(message)) { try plan.account }
    }

    /// Only a drop that keeps CAP_NET_ADMIN starts the thread that keeps it.
    @Test func onlyANetAdminDropStartsTheNetAdminThread() {
        #expect(PrivilegePlan.drop(user: "www", group: nil).makeNetAdminThread() == nil)
        #expect(PrivilegePlan.root.makeNetAdminThread() == nil)
        #expect(PrivilegePlan.unchanged.makeNetAdminThread() == nil)
        let thread = PrivilegePlan.drop(user: "www", group: nil, keepingNetAdmin: true).makeNetAdminThread()
        #expect(thread.map { FileManager.default.fileExists(atPath: "/proc/self/task/\($0.threadID)") } == true)
    }

    /// The capability check `become` ends with, against this process's own threads: a thread holds what
    /// `/proc/self/task/ID/status` says, and one that is expected to hold exactly that is not listed.
    @Test func threadsAreListedByTheCapabilitiesTheyHold() throws {
        let thread = NetAdminThread()
        let id = String(thread.threadID)
        let status = try String(contentsOfFile: "/proc/self/task/\(id)/status", encoding: .utf8)
        func set(_ name: String) throws -> UInt64 {
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(name + ":") })
            return try #require(UInt64(line.split(whereSeparator: \.isWhitespace)[1], radix: 16))
        }
        let held = PrivilegeDrop.Capabilities(
            permitted: try set("CapPrm"),
            effective: try set("CapEff"),
            inheritable: try set("CapInh"),
            ambient: try set("CapAmb")
        )
        #expect(!PrivilegeDrop.threadsWithCapabilitiesOtherThan([id: held]).contains(id))
        let listedAgainstNetAdmin = PrivilegeDrop.threadsWithCapabilitiesOtherThan([id: .netAdminAlone]).contains(id)
        #expect(listedAgainstNetAdmin == (held != .netAdminAlone))
        // Expected to hold nothing: listed exactly when it holds something (root here holds everything).
        let holdsSomething = held.permitted != 0 || held.effective != 0 || held.ambient != 0
        #expect(PrivilegeDrop.threadsWithCapabilitiesOtherThan([:]).contains(id) == holdsSomething)
    }

    /// The check `become` ends with: in this process (never dropped) every thread is the process's own user.
    @Test func everyThreadHasTheProcesssUser() {
        #expect(PrivilegeDrop.threadsKeepingOtherUsers(getuid()).isEmpty)
        #expect(!PrivilegeDrop.threadsKeepingOtherUsers(getuid() &+ 1).isEmpty)
    }
}

/// How the probe runs as `--user`: the words put before the interpreter, and the environment it gets.
@Suite struct AccountLauncherTests {
    @Test func thePrefixNamesTheIDsAndEndsTheOptions() {
        let account = UserAccount(name: "www", userID: 33, groupID: 34, groups: [34, 100], home: "/var/www")
        let launcher = AccountLauncher(account: account, feisty: "/usr/local/bin/feisty")
        #expect(
            launcher.prefix == [
                "/usr/local/bin/feisty", "exec-as", "--uid", "33", "--gid", "34", "--groups", "34,100", "--",
            ]
        )
        #expect(launcher.environment == ["HOME": "/var/www", "USER": "www", "LOGNAME": "www"])
        // Without supplementary groups, the group alone (setgroups(0) would keep none, not root's).
        var alone = launcher
        alone.account.groups = []
        #expect(alone.prefix.contains("34") && alone.prefix[alone.prefix.firstIndex(of: "--groups")! + 1] == "34")
    }
}
