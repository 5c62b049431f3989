import Foundation
import Logging
import NIOCore
import Testing

@testable import FeistyCore

private func address(_ text: String) -> IPAddress { IPAddress(text)! }

private func entry(_ key: String, until: Double = .infinity) -> BanList.Entry {
    BanList.Entry(key: try! BanKey(parsing: key), until: until)
}

@Suite struct GuardPeerAddressTests {
    @Test(arguments: ["192.0.2.7", "::1", "2001:db8:1:2::abcd", "::ffff:192.0.2.7", "fe80::1"])
    func aSocketPeerReadsAsItsText(text: String) throws {
        let socket = try SocketAddress(ipAddress: text, port: 443)
        #expect(IPAddress(socketAddress: socket) == IPAddress(text))
    }

    @Test func aUnixPeerHasNoAddress() throws {
        #expect(IPAddress(socketAddress: try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")) == nil)
    }
}

@Suite struct GuardBanListTests {
    static let list = BanList(entries: [
        entry("192.0.2.7"), entry("198.51.100.0/24", until: 2_000), entry("2001:db8:1:2::/64"),
        entry("10.0.0.0/8", until: 500),
    ])

    @Test(
        arguments: [
            ("192.0.2.7", "192.0.2.7"), ("192.0.2.8", nil), ("198.51.100.99", "198.51.100.0/24"),
            ("::ffff:192.0.2.7", "192.0.2.7"), ("2001:db8:1:2::abcd", "2001:db8:1:2:0:0:0:0/64"),
            ("2001:db8:1:3::1", nil), ("10.1.2.3", nil),  // the /8 ended at 500
        ] as [(String, String?)]
    )
    func lookups(client: String, banned: String?) {
        #expect(Self.list.ban(covering: address(client), at: 1_000)?.key.description == banned)
    }

    @Test func theMostSpecificBanAnswersAndALaterEndWins() {
        let list = BanList(entries: [entry("192.0.2.0/24", until: 100), entry("192.0.2.1", until: 50)])
        #expect(list.ban(covering: address("192.0.2.1"), at: 10)?.key.description == "192.0.2.1")
        // The /32 ended; the /24 still holds.
        #expect(list.ban(covering: address("192.0.2.1"), at: 60)?.key.description == "192.0.2.0/24")
        let twice = BanList(entries: [entry("192.0.2.1", until: 50), entry("192.0.2.1", until: 80)])
        #expect(twice.count == 1 && twice.ban(covering: address("192.0.2.1"), at: 70) != nil)
    }
}

@Suite struct GuardJudgementTests {
    static let matcher = try! RouteMatcher(
        table: RouteTable(rules: [
            RouteRule(rule: "/", endpoint: "index"), RouteRule(rule: "/wp-admin/", endpoint: "x"),
        ])
    )

    static func verdict(_ target: String) -> RouteGateDecision {
        matcher.gate(method: "GET", target: target, host: "localhost", websocket: false)
    }

    static func makeGuard(
        maxStrikes: Int = 3,
        response: GuardConfiguration.BanResponse = .close,
        dryRun: Bool = false
    ) -> ClientGuard {
        ClientGuard(
            configuration: GuardConfiguration(
                strikes: StrikeBook(policy: BanPolicy(maxStrikes: maxStrikes, dryRun: dryRun)),
                stateDirectory: "/nonexistent",
                banResponse: response
            )
        )
    }

    static func judge(_ guardian: ClientGuard, _ target: String, from client: String = "192.0.2.1") -> RequestVerdict {
        guardian.judge(request: address(client), target: target, verdict: verdict(target), now: .now())
    }

    @Test func theFirstUndeclaredURLGoesToTheAppTheNextAreAnsweredByFeisty() {
        let guardian = Self.makeGuard()
        #expect(Self.judge(guardian, "/") == .pass)
        #expect(Self.judge(guardian, "/typo") == .forwardUndeclared)
        #expect(Self.judge(guardian, "/typo") == .refuseUndeclared)  // the same path again: no new strike
        #expect(Self.judge(guardian, "/other") == .refuseUndeclared)
        // Another client starts with a clean slate.
        #expect(Self.judge(guardian, "/typo", from: "192.0.2.2") == .forwardUndeclared)
        // A declared route that happens to be a canary pattern is a route like any other.
        #expect(Self.judge(guardian, "/wp-admin/") == .pass)
    }

    /// A `Host` Werkzeug cannot bind (its `BadHost`, a 400 feisty answers) is never a strike, however often,
    /// whatever the path; the strike book is left as it was.
    @Test(arguments: ["a..b", ".example.com", String(repeating: "x", count: 64) + ".com", "a..b:5000"])
    func aBadHostIsNeverAStrike(host: String) async {
        let guardian = Self.makeGuard(maxStrikes: 2)
        for target in ["/", "/typo", "/other", "/.env", "/wp-admin/"] {
            let gate = Self.matcher.gate(method: "GET", target: target, host: host, websocket: false)
            #expect(gate == .badHost, "\(host) \(target)")
            #expect(guardian.judge(request: address("192.0.2.1"), target: target, verdict: gate, now: .now()) == .pass)
        }
        // The client's first undeclared URL still goes to the app: no strike was spent above.
        #expect(Self.judge(guardian, "/typo") == .forwardUndeclared)
        guardian.finish()
        var events = guardian.takeStrikes().map { "strike \($0.path) \($0.count)" }
        for await event in guardian.events {
            switch event {
            case .ban: events.append("ban")
            }
        }
        #expect(events == ["strike /typo 1"])
    }

    @Test func strikesAndTheBanAreHandedToTheServiceNotEnforcedBeforeTheyAreDurable() async {
        let guardian = Self.makeGuard()
        for path in ["/a", "/b", "/c"] { _ = Self.judge(guardian, path) }
        guardian.finish()
        var events = guardian.takeStrikes().map { "strike \($0.client) \($0.path) \($0.count)" }
        for await event in guardian.events {
            switch event {
            case .ban(let decision, _): events.append("ban \(decision.client) \(decision.evidence)")
            }
        }
        #expect(events == ["strike 192.0.2.1 /a 1", "strike 192.0.2.1 /b 2", "ban 192.0.2.1 [\"/a\", \"/b\", \"/c\"]"])
        #expect(guardian.takeStrikes().isEmpty)
        // Not published yet: declared routes still pass, undeclared ones are answered by feisty.
        #expect(Self.judge(guardian, "/") == .pass)
        #expect(guardian.judge(connectionFrom: address("192.0.2.1"), peerTrusted: false) == .serve)
    }

    @Test func aCanaryBansAtOnce() async {
        let guardian = Self.makeGuard(maxStrikes: 5)
        #expect(Self.judge(guardian, "/.env") == .refuseUndeclared)
        guardian.finish()
        var bans = 0
        for await event in guardian.events {
            if case .ban = event { bans += 1 }
        }
        #expect(bans == 1)
    }

    @Test(arguments: [GuardConfiguration.BanResponse.close, .forbidden])
    func aPublishedBanTurnsTheClientAway(response: GuardConfiguration.BanResponse) {
        let guardian = Self.makeGuard(response: response)
        guardian.publish(BanList(entries: [entry("192.0.2.0/24")]))
        #expect(Self.judge(guardian, "/") == .banned(closeSilently: response == .close))
        #expect(Self.judge(guardian, "/", from: "192.0.3.1") == .pass)
        let atAccept = guardian.judge(connectionFrom: address("192.0.2.9"), peerTrusted: false)
        // Under 403 the connection is read, so the request can be answered.
        #expect(atAccept == (response == .close ? .closeBanned : .serve))
        // A trusted proxy in a banned block is still served; its clients are judged per request.
        #expect(guardian.judge(connectionFrom: address("192.0.2.9"), peerTrusted: true) == .serve)
    }

    @Test func aDryRunRefusesNobody() {
        let guardian = Self.makeGuard(dryRun: true)
        guardian.publish(BanList(entries: [entry("192.0.2.1")]))
        #expect(Self.judge(guardian, "/") == .pass)
        #expect(guardian.judge(connectionFrom: address("192.0.2.1"), peerTrusted: false) == .serve)
    }

    @Test func forgivingAClientStartsItOver() {
        let guardian = Self.makeGuard()
        for path in ["/a", "/b", "/c"] { _ = Self.judge(guardian, path) }
        guardian.forgive(try! IPNetwork(parsing: "192.0.2.1"))
        #expect(Self.judge(guardian, "/d") == .forwardUndeclared)
    }
}

@Suite(.serialized) struct GuardServiceTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "feisty-guard-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aBanIsDurableBeforeItIsEnforcedAndARemovalByHandIsAppliedWithinASecond() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = GuardConfiguration(
            strikes: StrikeBook(policy: BanPolicy(maxStrikes: 2)),
            stateDirectory: directory
        )
        let service = try GuardService(configuration: configuration, logger: Logger(label: "test"))
        let guardian = service.clientGuard
        let client = address("192.0.2.1")
        let running = Task { try await service.run() }
        defer { running.cancel() }
        for path in ["/a", "/b"] { _ = GuardJudgementTests.judge(guardian, path) }
        // Enforced only once published, and published only after the commit.
        var waited = 0
        while guardian.judge(connectionFrom: client, peerTrusted: false) == .serve, waited < 500 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        #expect(guardian.judge(connectionFrom: client, peerTrusted: false) == .closeBanned)
        let store = try BanStore(directory: directory)
        let records = try store.records(at: Date())
        #expect(records.map(\.ban.key.description) == ["192.0.2.1"])
        #expect(records.first?.ban.evidence == "/a /b")
        // `feisty bans remove` in another process: the running guard lifts the ban and forgets the strikes.
        try store.remove(key: BanKey(parsing: "192.0.2.1"))
        let added = try store.add(
            Ban(key: BanKey(parsing: "198.51.100.0/24"), since: Date(), until: nil, source: .manual)
        )
        #expect(added.repeatCount == 0)
        // Applied at the next poll (500 ms; waited for up to 10 s: the machine may be loaded).
        var polls = 0
        while guardian.judge(connectionFrom: address("198.51.100.3"), peerTrusted: false) == .serve, polls < 500 {
            try await Task.sleep(for: .milliseconds(20))
            polls += 1
        }
        #expect(guardian.judge(connectionFrom: client, peerTrusted: false) == .serve)
        #expect(guardian.judge(connectionFrom: address("198.51.100.3"), peerTrusted: false) == .closeBanned)
        #expect(GuardJudgementTests.judge(guardian, "/c") == .forwardUndeclared)
    }

    @Test func strikesSurviveARestartButNotTheBanTheyEarned() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = GuardConfiguration(
            strikes: StrikeBook(policy: BanPolicy(maxStrikes: 3)),
            stateDirectory: directory
        )
        func started() throws -> (GuardService, Task<Void, any Error>) {
            let service = try GuardService(configuration: configuration, logger: Logger(label: "test"))
            return (service, Task { try await service.run() })
        }
        var (service, running) = try started()
        for path in ["/a", "/b"] { _ = GuardJudgementTests.judge(service.clientGuard, path) }
        // Written within a poll (waited for: the machine may be loaded).
        let store = try BanStore(directory: directory)
        var polls = 0
        while try store.strikesInForce(since: Date().addingTimeInterval(-60)).count < 2, polls < 500 {
            try await Task.sleep(for: .milliseconds(20))
            polls += 1
        }
        running.cancel()
        (service, running) = try started()
        // Two strikes in the window came back: a third path bans.
        #expect(GuardJudgementTests.judge(service.clientGuard, "/c") == .refuseUndeclared)
        var waited = 0
        while service.clientGuard.bans.count == 0, waited < 500 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        #expect(service.clientGuard.bans.count == 1)
        running.cancel()
        // The ban lifted by hand, a restart: the strikes that earned it are spent.
        try BanStore(directory: directory).remove(key: BanKey(parsing: "192.0.2.1"))
        (service, running) = try started()
        defer { running.cancel() }
        #expect(GuardJudgementTests.judge(service.clientGuard, "/d") == .forwardUndeclared)
    }

    @Test func aRepeatBanDoublesAcrossRestarts() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for round in 1...2 {
            let service = try GuardService(
                configuration: GuardConfiguration(
                    strikes: StrikeBook(policy: BanPolicy(maxStrikes: 1, banTime: .duration(.seconds(60)))),
                    stateDirectory: directory
                ),
                logger: Logger(label: "test")
            )
            let running = Task { try await service.run() }
            _ = GuardJudgementTests.judge(service.clientGuard, "/probe-\(round)")
            var waited = 0
            while service.clientGuard.bans.count == 0, waited < 500 {
                try await Task.sleep(for: .milliseconds(20))
                waited += 1
            }
            running.cancel()
            let store = try BanStore(directory: directory)
            let record = try #require(try store.records(at: Date()).first)
            let length = record.ban.until!.timeIntervalSince(record.ban.since)
            #expect(record.repeatCount == round)
            #expect(abs(length - 60 * Double(round)) < 1)
            // The ban lifted by hand, so the next round's client can be banned again.
            try store.remove(key: record.ban.key)
        }
    }
}

@Suite struct GuardProxyTests {
    @Test(arguments: [GuardConfiguration.BanResponse.close, .forbidden])
    func aBannedClientIsTurnedAway(response: GuardConfiguration.BanResponse) async throws {
        let guardian = ClientGuard(
            configuration: GuardConfiguration(stateDirectory: "/nonexistent", banResponse: response)
        )
        try await withProxyTestBed(clientGuard: guardian) { bed, _ in
            #expect(try await curl("\(bed.base)/hello/x") == "hello x")
            guardian.publish(BanList(entries: [entry("127.0.0.1")]))
            let result = try await runTool(["curl", "-s", "-m", "5", "-w", "|%{http_code}", "\(bed.base)/hello/x"])
            if response == .close {
                // Reset right after accept: curl reads nothing (56 "Connection reset by peer", 52 "Empty reply", or 7
                // when the reset comes before curl counts the connection as made).
                #expect([7, 52, 56].contains(result.status), "curl exit \(result.status)")
                #expect(result.output == "|000")
            } else {
                #expect(result.output.hasPrefix("403 Forbidden") && result.output.hasSuffix("|403"))
            }
            guardian.publish(.empty)
            #expect(try await curl("\(bed.base)/hello/y") == "hello y")
        }
    }

    @Test func aKeptConnectionOfAClientBannedByItsOwnProbeClosesAtItsNextRequest() async throws {
        let directory = GuardServiceTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try GuardService(
            configuration: GuardConfiguration(
                strikes: StrikeBook(policy: BanPolicy(maxStrikes: 1)),
                stateDirectory: directory
            ),
            logger: Logger(label: "test")
        )
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try await withProxyTestBed(clientGuard: service.clientGuard) { bed, _ in
            // One connection: a declared route, a probe that earns the ban (answered 404 by feisty), and after the
            // ban is durable and published, a declared route again: the connection closes unanswered.
            // The pause is long for a loaded machine; whether the ban was published in it is checked on its own.
            async let published: Bool = {
                let deadline = ContinuousClock.now + .seconds(6)
                while service.clientGuard.bans.count == 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                return service.clientGuard.bans.count == 1
            }()
            let reply = try await rawExchange(
                port: bed.proxyPort,
                pieces: [
                    "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                    "GET /hello/c HTTP/1.1\r\nHost: x\r\n\r\n",
                ],
                pause: 6,
                readTimeout: 2
            )
            #expect(try await published, "the ban was not published within 6 s")
            #expect(reply.contains("hello a") && reply.contains("404 Not Found"), "\(reply)")
            #expect(!reply.contains("hello c") && reply.hasSuffix("EOF"), "\(reply)")
        }
    }
}
