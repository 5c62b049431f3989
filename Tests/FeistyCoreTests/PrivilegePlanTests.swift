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
            // Root with --upstream --static: the probe parses the source, nothing of the app runs.
            (Request(effectiveUserID: 0, user: nil, upstream: true, staticRoutes: true), .unchanged),
            // Root with --user: bind, then become the user (and the group asked for).
            (Request(effectiveUserID: 0, user: "www"), .drop(user: "www", group: nil)),
            (Request(effectiveUserID: 0, user: "www", group: "web"), .drop(user: "www", group: "web")),
            // --upstream with --user: the probe imports the app as the user; feisty drops once it listens (the
            // address comes from the probe's table, so it is always known before the bind).
            (Request(effectiveUserID: 0, user: "www", upstream: true), .drop(user: "www", group: nil)),
            (
                Request(effectiveUserID: 0, user: "www", group: "web", upstream: true, publicAddressKnown: false),
                .drop(user: "www", group: "web")
            ),
            (
                Request(effectiveUserID: 0, user: "www", upstream: true, staticRoutes: true),
                .drop(user: "www", group: nil)
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
                ["import the app as root", "--upstream", "--user USER", "--static", "--allow-root-app"]
            ),
            (
                Request(effectiveUserID: 1000, user: "www", upstream: true),
                ["--user www", "needs feisty started as root"]
            ),
            (Request(effectiveUserID: 0, user: "www", nftables: true), ["--ban-action nftables", "CAP_NET_ADMIN"]),
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

    /// The check `become` ends with: in this process (never dropped) every thread is the process's own user.
    @Test func everyThreadHasTheProcesssUser() {
        #expect(PrivilegeDrop.threadsKeepingOtherUsers(getuid()).isEmpty)
        #expect(!PrivilegeDrop.threadsKeepingOtherUsers(getuid() &+ 1).isEmpty)
    }
}
