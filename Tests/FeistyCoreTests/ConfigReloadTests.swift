import Logging
import NIOCore
import Synchronization
import Testing

@testable import FeistyCore

@Suite struct ConfigReloadPlanTests {
    /// (running, reloaded, applied live, needs a restart).
    @Test(
        arguments: [
            (["rate": ["--rate=5"]], ["rate": ["--rate=9"]], ["rate"], [String]()),
            (["rate": ["--rate=5"]], ["rate": ["--rate=5"]], [], []),
            ([:], ["deny": ["--deny=127.0.0.3"]], ["deny"], []),
            (["allow": ["--allow=a", "--allow=b"]], ["allow": ["--allow=b", "--allow=a"]], ["allow"], []),
            (["workers": ["--workers=1"]], ["workers": ["--workers=2"]], [], ["workers"]),
            (["listen": ["--listen=127.0.0.1:1"]], [:], [], ["listen"]),
            (
                ["dry-run": ["--dry-run"], "server": ["--server=waitress"]], ["max-strikes": ["--max-strikes=2"]],
                ["dry-run", "max-strikes"], ["server"]
            ),
            (
                ["internal": ["--internal=unix"]], ["internal": ["--internal=tcp"], "ban-time": ["--ban-time=1h"]],
                ["ban-time"], ["internal"]
            ),
        ]
    )
    func changedKeysAreSplitIntoLiveAndRestart(
        running: [String: [String]],
        reloaded: [String: [String]],
        applied: [String],
        needsRestart: [String]
    ) {
        let plan = ConfigReloadPlan(running: running, reloaded: reloaded)
        #expect(plan.applied == applied)
        #expect(plan.needsRestart == needsRestart)
        // What is in force: the applied keys' new arguments, the restart keys' running ones.
        for key in applied { #expect(plan.inForce[key] == reloaded[key]) }
        for key in needsRestart { #expect(plan.inForce[key] == running[key]) }
    }

    @Test func withoutAGuardNothingIsLive() {
        let plan = ConfigReloadPlan(running: [:], reloaded: ["rate": ["--rate=1"]], liveKeys: [])
        #expect(plan.applied.isEmpty)
        #expect(plan.needsRestart == ["rate"])
    }
}

@Suite struct ReloadCoordinatorTests {
    private static func guardConfiguration(rate: Double?, deny: [String] = []) throws -> GuardConfiguration {
        GuardConfiguration(
            stateDirectory: "/nonexistent",
            rate: rate.map { (perSecond: $0, burst: 1) },
            lists: try AddressLists(parsingAllow: [], deny: deny, priority: [])
        )
    }

    /// The order of one reload, a good file and then a broken one: the hooks around it, the configuration before
    /// the deploy, and a broken file still deploys the code but changes no setting.
    @Test func aReloadAppliesTheFileThenDeploysAndABrokenFileStillDeploys() async throws {
        let steps = Mutex<[String]>([])
        let file = Mutex<Result<ConfigReloader.Loaded, ConfigError>>(
            .success(
                .init(argumentsByKey: ["rate": ["--rate=1"]], guardConfiguration: try Self.guardConfiguration(rate: 1))
            )
        )
        let guardian = ClientGuard(
            configuration: try Self.guardConfiguration(rate: nil),
            lists: ClientListsResolver(lists: AddressLists(), logger: Logger(label: "test"))
        )
        let reloader = ConfigReloader(
            file: "feisty.toml",
            running: [:],
            clientGuard: guardian,
            logger: Logger(label: "test")
        ) {
            steps.withLock { $0.append("config") }
            return try file.withLock { try $0.get() }
        }
        let coordinator = ReloadCoordinator(
            configuration: reloader,
            hooks: .init(
                willReload: { steps.withLock { $0.append("will") } },
                didReload: { steps.withLock { $0.append("did") } }
            ),
            signals: nil,
            logger: Logger(label: "test")
        ) { steps.withLock { $0.append("deploy") } }

        func judge(_ client: String) -> RequestVerdict {
            guardian.judge(request: IPAddress(client)!, target: "/", verdict: .forward(rule: 0), now: .now())
        }
        #expect(judge("192.0.2.1") == .pass)
        #expect(judge("192.0.2.1") == .pass)  // no --rate yet

        await coordinator.reload()
        #expect(steps.withLock { $0 } == ["will", "config", "deploy", "did"])
        #expect(judge("192.0.2.2") == .pass)
        #expect(judge("192.0.2.2") != .pass)  // rate 1, burst 1: the second at once is throttled
        #expect(guardian.configuration.rate?.perSecond == 1)

        file.withLock { $0 = .failure(ConfigError(file: "feisty.toml", line: 3, message: "unknown key \"rat\"")) }
        steps.withLock { $0.removeAll() }
        await coordinator.reload()
        #expect(steps.withLock { $0 } == ["will", "config", "deploy", "did"])
        #expect(guardian.configuration.rate?.perSecond == 1)  // unchanged
    }

    @Test func aReloadAppliesTheDenyListAndRateLive() async throws {
        let guardian = ClientGuard(
            configuration: try Self.guardConfiguration(rate: nil),
            lists: ClientListsResolver(lists: AddressLists(), logger: Logger(label: "test"))
        )
        func judge(_ client: String) -> RequestVerdict {
            guardian.judge(request: IPAddress(client)!, target: "/", verdict: .forward(rule: 0), now: .now())
        }
        #expect(judge("127.0.0.3") == .pass)
        await guardian.apply(try Self.guardConfiguration(rate: nil, deny: ["127.0.0.3"]))
        #expect(judge("127.0.0.3") == .banned(closeSilently: true))
        #expect(judge("127.0.0.4") == .pass)
        await guardian.apply(try Self.guardConfiguration(rate: nil))
        #expect(judge("127.0.0.3") == .pass)
    }
}
