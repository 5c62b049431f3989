import Foundation
import Testing

@testable import FeistyCore

private func key(_ text: String, prefix: Int = 64) -> ClientKey {
    ClientKey(client: text, ipv6Prefix: prefix)!
}

private let minute = Duration.seconds(60)

@Suite struct GuardClientKeyTests {
    @Test(
        arguments: [
            ("192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2:0:0:0:0/64"),
            ("[2001:db8:1:2::9]", "2001:db8:1:2:0:0:0:0/64"),
        ]
    )
    func keys(client: String, expected: String) {
        #expect(key(client).description == expected)
    }

    @Test(arguments: ["", "unix:/tmp/sock", "example.com", "256.1.1.1"])
    func nonAddressesHaveNoKey(client: String) {
        #expect(ClientKey(client: client) == nil)
    }

    @Test func ipv6ClientsOfOneNetworkShareAKey() {
        #expect(key("2001:db8::1") == key("2001:db8::ffff:2"))
        #expect(key("2001:db8:0:1::1") != key("2001:db8:0:2::1"))
        #expect(key("2001:db8:0:1::1", prefix: 48) == key("2001:db8:0:2::1", prefix: 48))
        #expect(key("2001:db8::1", prefix: 128) != key("2001:db8::2", prefix: 128))
    }
}

@Suite struct GuardPathTests {
    @Test(
        arguments: [
            ("/.env", true), ("/.env.production", true), ("/.ENV", true), ("/.git/config", true), ("/.git", true),
            ("/wp-login.php", true), ("/WP-LOGIN.PHP?x=1", true), ("/wp-admin/setup.php", true),
            ("/phpMyAdmin/index.php", true), ("/cgi-bin/test.cgi", true), ("/.aws/credentials", true),
            ("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", true), ("/actuator/health", true),
            ("/environment", false), ("/user/bob", false), ("/gitlab", false), ("/wp-login.php.bak", false),
            ("/", false),
        ]
    )
    func builtInCanaries(target: String, isCanary: Bool) {
        #expect((CanaryPaths.builtIn.pattern(matching: target) != nil) == isCanary)
    }

    @Test(
        arguments: [
            ("/favicon.ico", true), ("/robots.txt", true), ("/apple-touch-icon.png", true),
            ("/apple-touch-icon-120x120-precomposed.png", true), ("/.well-known/security.txt", true),
            ("/apple-touch-icon.jpg", false), ("/favicon.ico.php", false), ("/admin", false),
        ]
    )
    func browserPaths(target: String, isBrowserPath: Bool) {
        #expect(BrowserPaths.contains(target) == isBrowserPath)
    }

    @Test func canaryFileAddsPatterns() throws {
        let text = "# mine\n\n/secret-admin/\n/backup* # archives\n/exact.txt\n"
        let canaries = try CanaryPaths(builtInPlus: text, file: "canaries.txt")
        #expect(canaries.patterns.count == CanaryPaths.builtIn.patterns.count + 3)
        #expect(canaries.pattern(matching: "/secret-admin/x")?.text == "/secret-admin/")
        #expect(canaries.pattern(matching: "/backup-2024.tar.gz")?.text == "/backup*")
        #expect(canaries.pattern(matching: "/exact.txt") != nil)
        #expect(canaries.pattern(matching: "/exact.txt2") == nil)
    }

    @Test(
        arguments: [
            ("/ok\nno-slash\n", 2, "does not start with /"),
            ("/a\n/b\n/c d\n", 3, "contains a space or ?"),
            ("/a*b*\n", 1, "more than one *"),
            ("/q?x=1\n", 1, "contains a space or ?"),
        ]
    )
    func badCanaryLinesNameTheLine(text: String, line: Int, reason: String) {
        #expect(throws: GuardError.self) { try CanaryPaths(builtInPlus: text, file: "c.txt") }
        do {
            _ = try CanaryPaths(builtInPlus: text, file: "c.txt")
        } catch {
            guard case .invalidCanaryPattern(let file, let got, _, let why) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(file == "c.txt" && got == line && why == reason)
        }
    }

    @Test func missingCanaryFileIsAnError() {
        #expect(throws: GuardError.unreadableFile(path: "/nonexistent/c.txt", reason: "no such file")) {
            try CanaryPaths.load(file: "/nonexistent/c.txt")
        }
    }
}

@Suite struct GuardBanPolicyTests {
    @Test(
        arguments: [
            (1, 600), (2, 1200), (3, 2400), (10, 307_200), (11, 7 * 86_400), (100, 7 * 86_400),
        ]
    )
    func repeatBansDoubleUpToTheCap(count: Int, seconds: Int) {
        #expect(BanPolicy.standard.banLength(count: count) == .seconds(seconds))
    }

    @Test func capBelowBanTimeKeepsBanTime() {
        let policy = BanPolicy(banTime: .duration(.seconds(100)), banTimeMax: .seconds(10))
        #expect(policy.banLength(count: 3) == .seconds(100))
    }

    @Test func foreverNeverEnds() {
        let policy = BanPolicy(banTime: .forever)
        let ban = policy.ban(key("192.0.2.1"), at: .seconds(5), count: 1, evidence: [])
        #expect(ban.until == nil && ban.holds(at: .seconds(1_000_000_000)))
    }
}

@Suite struct GuardStrikeBookTests {
    let client = key("192.0.2.7")

    /// Feeds `paths`, all with one gate verdict (404 by default), `step` apart; returns the actions.
    func feed(
        _ paths: [String], book: inout StrikeBook, client: ClientKey? = nil, start: Duration = .zero,
        step: Duration = minute, verdict: RouteGateDecision = .notFound
    ) -> [StrikeAction] {
        var now = start
        return paths.map { path in
            defer { now += step }
            return book.record(client: client ?? self.client, target: path, verdict: verdict, at: now)
        }
    }

    @Test func oneRemovedEndpointIsOneStrike() {
        var book = StrikeBook()
        let actions = feed(Array(repeating: "/api/v1/old", count: 30), book: &book)
        #expect(actions.first == .strike(count: 1))
        #expect(actions.dropFirst().allSatisfy { $0 == .none })
    }

    @Test func aWordListIsManyStrikesThenABan() {
        var book = StrikeBook()
        let actions = feed(["/a", "/b", "/c", "/d", "/e"], book: &book)
        let strikes: [StrikeAction] = [.strike(count: 1), .strike(count: 2), .strike(count: 3), .strike(count: 4)]
        #expect(Array(actions.prefix(4)) == strikes)
        guard case .ban(let ban) = actions[4] else {
            Issue.record("no ban: \(actions[4])")
            return
        }
        #expect(ban.count == 1 && ban.since == .seconds(240) && ban.until == .seconds(840) && !ban.dryRun)
        #expect(ban.evidence == ["/a", "/b", "/c", "/d", "/e"])
        #expect(book.record(client: client, target: "/", verdict: .forward(rule: 0), at: .seconds(300)) == .refuse(ban))
        #expect(book.record(client: client, target: "/", verdict: .forward(rule: 0), at: .seconds(840)) == .none)
    }

    @Test func queryStringsDoNotMakeDistinctPaths() {
        var book = StrikeBook()
        let actions = feed(["/x?a=1", "/x?a=2", "/x"], book: &book)
        #expect(actions == [.strike(count: 1), .none, .none])
    }

    @Test func strikesLeaveTheWindow() {
        var book = StrikeBook()
        // One every 3 minutes: at most 4 in a 10-minute window, never 5.
        let actions = feed((1...20).map { "/p\($0)" }, book: &book, step: .seconds(180))
        #expect(!actions.contains { if case .ban = $0 { true } else { false } })
        #expect(actions.last == .strike(count: 4))
        #expect(book.strikes(of: client, at: .seconds(19 * 180)) == 4)
        #expect(book.strikes(of: client, at: .seconds(19 * 180 + 600)) == 0)
    }

    @Test(arguments: ["/.env", "/wp-login.php", "/.git/HEAD", "/phpmyadmin/"])
    func aCanaryBansAtOnce(path: String) {
        var book = StrikeBook()
        guard case .ban(let ban) = book.record(client: client, target: path, verdict: .notFound, at: .zero) else {
            Issue.record("canary \(path) did not ban")
            return
        }
        #expect(ban.evidence == [path])
    }

    @Test func aDeclaredCanaryIsAnOrdinaryRoute() {
        var book = StrikeBook()
        let action = book.record(client: client, target: "/.env", verdict: .forward(rule: 3), at: .zero)
        #expect(action == .none)
        // A redirect or WebSocket mismatch (`rule: nil`) is a declared URL too.
        #expect(book.record(client: client, target: "/x", verdict: .forward(rule: nil), at: .zero) == .none)
    }

    @Test func browserPathsAreNoStrike() {
        var book = StrikeBook()
        let actions = feed(
            ["/favicon.ico", "/robots.txt", "/apple-touch-icon-precomposed.png", "/.well-known/change-password"],
            book: &book
        )
        #expect(actions.allSatisfy { $0 == .none })
    }

    @Test(arguments: [(true, StrikeAction.strike(count: 1)), (false, StrikeAction.none)])
    func methodNotAllowedIsAStrikeUnlessTurnedOff(strike405: Bool, expected: StrikeAction) {
        var book = StrikeBook(strike405: strike405)
        let action = book.record(client: client, target: "/", verdict: .methodNotAllowed(allowed: ["GET"]), at: .zero)
        #expect(action == expected)
    }

    @Test func declaredRoutesAreNeverStrikes() {
        var book = StrikeBook()
        let actions = feed((1...50).map { "/user/\($0)" }, book: &book, verdict: .forward(rule: 1))
        #expect(actions.allSatisfy { $0 == .none })
    }

    @Test func repeatBansDouble() {
        var book = StrikeBook(policy: BanPolicy(banTime: .duration(.seconds(600)), banTimeMax: .seconds(1500)))
        var lengths: [Duration?] = []
        var now = Duration.zero
        for _ in 0..<4 {
            if case .ban(let ban) = book.record(client: client, target: "/.env", verdict: .notFound, at: now) {
                lengths.append(ban.until.map { $0 - ban.since })
                now = ban.until!
            }
        }
        #expect(lengths == [.seconds(600), .seconds(1200), .seconds(1500), .seconds(1500)])
    }

    @Test func foreverBansRefuseForever() {
        var book = StrikeBook(policy: BanPolicy(banTime: .forever))
        _ = book.record(client: client, target: "/.env", verdict: .notFound, at: .zero)
        let later = book.record(client: client, target: "/", verdict: .forward(rule: 0), at: .seconds(86_400 * 3650))
        guard case .refuse(let ban) = later else {
            Issue.record("not refused: \(later)")
            return
        }
        #expect(ban.until == nil)
    }

    @Test func ipv6ClientsOfOneSlash64ShareStrikesAndBans() {
        var book = StrikeBook()
        let addresses = (1...5).map { key("2001:db8:5:6::\($0)") }
        var last = StrikeAction.none
        for (index, address) in addresses.enumerated() {
            last = book.record(client: address, target: "/p\(index)", verdict: .notFound, at: .seconds(index))
        }
        guard case .ban = last else {
            Issue.record("the /64 was not banned: \(last)")
            return
        }
        let other = key("2001:db8:5:6::abcd")
        #expect(book.ban(of: other, at: .seconds(10)) != nil)
        #expect(book.ban(of: key("2001:db8:5:7::1"), at: .seconds(10)) == nil)
    }

    @Test func dryRunSaysWouldBanAndRefusesNothing() {
        var book = StrikeBook(policy: BanPolicy(dryRun: true))
        guard case .ban(let ban) = book.record(client: client, target: "/.env", verdict: .notFound, at: .zero) else {
            Issue.record("no would-ban")
            return
        }
        #expect(ban.dryRun)
        #expect(book.record(client: client, target: "/", verdict: .forward(rule: 0), at: .seconds(1)) == .none)
        #expect(book.ban(of: client, at: .seconds(1)) == nil)
        // Repeat counts still grow: the next would-ban is the second.
        guard case .ban(let second) = book.record(client: client, target: "/.git/", verdict: .notFound, at: .seconds(2))
        else {
            Issue.record("no second would-ban")
            return
        }
        #expect(second.count == 2)
    }

    @Test func memoryIsBounded() {
        var book = StrikeBook(policy: BanPolicy(maxStrikes: 1000), maxClients: 10, maxPathsPerClient: 3)
        for index in 0..<100 {
            _ = book.record(client: key("10.0.0.\(index)"), target: "/x", verdict: .notFound, at: .seconds(index))
        }
        #expect(book.trackedClients <= 10)
        let actions = feed((1...10).map { "/p\($0)" }, book: &book, start: .seconds(200), step: .seconds(1))
        #expect(actions.last == .strike(count: 3))
    }
}

@Suite struct GuardAccessLogTests {
    @Test(
        arguments: [
            (
                #"192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
                "192.0.2.1", 971_211_336, "GET", "/apache_pb.gif", 200
            ),
            (
                #"2001:db8::1 - - [10/Oct/2000:20:55:36 +0000] "POST /x?a=1 HTTP/1.1" 404 9 "-" "curl/8.0""#,
                "2001:db8::1", 971_211_336, "POST", "/x?a=1", 404
            ),
            (
                #"127.0.0.1 - - [30/Nov/2026 21:28:00] "GET /ws HTTP/1.1" 200 -"#,
                "127.0.0.1", 1_796_074_080, "GET", "/ws", 200
            ),
            (
                "127.0.0.1 - - [30/Nov/2026 21:28:00] \"\u{1B}[33mGET /nope HTTP/1.1\u{1B}[0m\" 404 -",
                "127.0.0.1", 1_796_074_080, "GET", "/nope", 404
            ),
        ]
    )
    func parsesTheThreeFormats(line: String, client: String, epoch: Int, method: String, target: String, status: Int) {
        let parsed = AccessLogLine(line)
        #expect(parsed?.client == client)
        #expect(parsed?.time == .seconds(epoch))
        #expect(parsed?.method == method && parsed?.target == target && parsed?.status == status)
    }

    @Test(
        arguments: [
            "", "garbage", " * Running on http://127.0.0.1:5000", #"1.2.3.4 - - [bad time] "GET / HTTP/1.1" 200 1"#,
            #"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 1"#,
        ]
    )
    func refusesOtherLines(line: String) {
        #expect(AccessLogLine(line) == nil)
    }
}

@Suite struct GuardReplayTests {
    func replay(_ lines: [String]) throws -> LogReplay.Report {
        let matcher = try routeMatcher([rule("/", "index"), rule("/user/<name>", "user")])
        var replay = LogReplay(matcher: matcher, book: StrikeBook())
        for line in lines { replay.feed(line) }
        return replay.report
    }

    func line(_ client: String, _ second: Int, _ target: String, _ method: String = "GET") -> String {
        let time = String(format: "30/Nov/2026:21:%02d:%02d +0000", second / 60, second % 60)
        return #"\#(client) - - [\#(time)] "\#(method) \#(target) HTTP/1.1" 404 0"#
    }

    @Test func aScannerIsBannedWithItsEvidence() throws {
        let lines = ["/a", "/b", "/user/x", "/c", "/d", "/e", "/f"].enumerated().map { line("192.0.2.9", $0, $1) }
            + [line("192.0.2.10", 1, "/user/bob"), line("192.0.2.10", 2, "/gone"), "junk line"]
        let report = try replay(lines)
        #expect(report.clients.count == 2)
        let scanner = report.clients[0]
        #expect(scanner.client == "192.0.2.9" && scanner.requests == 7 && scanner.strikes == 5)
        #expect(scanner.bannedAt == "30/Nov/2026:21:00:05 +0000")
        #expect(scanner.evidence == [lines[0], lines[1], lines[3], lines[4], lines[5]])
        let user = report.clients[1]
        #expect(user.bannedAt == nil && user.strikes == 1 && user.evidence.isEmpty)
        #expect(report.unparsedCount == 1 && report.unparsedExamples == ["junk line"])
        #expect(report.undeclared.first == LogReplay.UndeclaredPath(path: "/a", count: 1))
        #expect(report.json.hasPrefix(#"{"clients": [{"banned_at": "30/Nov/2026:21:00:05 +0000""#))
    }
}
