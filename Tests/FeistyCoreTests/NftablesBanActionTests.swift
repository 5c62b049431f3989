import Foundation
import Testing

@testable import FeistyCore

/// The nft scripts as text, and the errors that need neither root nor nft.
@Suite struct NftablesBanActionScriptTests {
    func key(_ text: String) throws -> BanKey { try BanKey(parsing: text) }

    @Test func elementsGoToTheirSetAsNftText() throws {
        let cases: [(String, String, String)] = [
            ("192.0.2.7", "banned4_addresses", "192.0.2.7"),
            ("::ffff:192.0.2.7", "banned4_addresses", "192.0.2.7"),
            ("10.1.2.3/8", "banned4", "10.0.0.0/8"),
            ("0.0.0.0/0", "banned4", "0.0.0.0/0"),
            ("2001:db8:1:2::77/64", "banned6_64", "2001:db8:1:2:0:0:0:0"),
            ("2001:db8::5", "banned6_addresses", "2001:db8:0:0:0:0:0:5"),
            ("2001:db8::/48", "banned6", "2001:db8:0:0:0:0:0:0/48"),
            ("::/0", "banned6", "0:0:0:0:0:0:0:0/0"),
        ]
        for (text, set, element) in cases {
            let key = try key(text)
            #expect(NftablesBanAction.setName(for: key) == set, "\(text)")
            #expect(NftablesBanAction.elementText(for: key) == element, "\(text)")
        }
    }

    @Test func timeoutsRoundUpToMilliseconds() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(NftablesBanAction.timeoutText(until: now.addingTimeInterval(60), now: now) == "60000ms")
        #expect(NftablesBanAction.timeoutText(until: now.addingTimeInterval(1.0001), now: now) == "1001ms")
        #expect(NftablesBanAction.timeoutText(until: now, now: now) == "1ms")
    }

    @Test func batchesSplitIntoLinesPerSet() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var elements: [(key: BanKey, until: Date?)] = []
        for i in 0..<2500 { elements.append((try key("10.0.\(i >> 8).\(i & 255)"), now.addingTimeInterval(5))) }
        elements.append((try key("2001:db8::/32"), nil))
        let script = NftablesBanAction.addScript(table: "t", elements: elements, now: now)
        let lines = script.split(separator: "\n")
        #expect(lines.count == 4)
        let first = "add element inet t banned4_addresses { 10.0.0.0 timeout 5000ms, "
        #expect(lines.filter { $0.hasPrefix(first) }.count == 1)
        #expect(lines.last == "add element inet t banned6 { 2001:db8:0:0:0:0:0:0/32 }")
        let prepare = NftablesBanAction.prepareScript(table: "t")
        #expect(prepare.hasPrefix("table inet t {}\ndelete table inet t\ntable inet t {"))
    }

    @Test func aTableNameIsNeverScriptText() async {
        let action = NftablesBanAction(table: "x { }; flush ruleset", nft: "/nonexistent/nft")
        await #expect(throws: GuardError.nftablesFailed("not a table name: x { }; flush ruleset")) {
            try await action.prepare()
        }
    }

    @Test func missingNftIsAGuardError() async {
        let action = NftablesBanAction(table: "feisty-test", nft: "/nonexistent/nft")
        do {
            try await action.prepare()
            Issue.record("prepare succeeded without nft")
        } catch {
            guard case .nftablesFailed(let reason) = error else { return #expect(Bool(false), "\(error)") }
            #expect(error.description.hasPrefix("--ban-action nftables: nft failed: cannot run /nonexistent/nft"))
            #expect(!reason.isEmpty)
        }
    }
}

/// Runs a command to its end; the tests' own helper (the namespace, the connection probes).
@discardableResult
private func command(_ words: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = words
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Small outputs only: read to the end, then reap.
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

private func installed(_ name: String) -> Bool {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
}

/// Root, `nft`, `ip` and `python3`: what the namespace tests need.
private let namespaceTestsCanRun = geteuid() == 0 && installed("nft") && installed("ip") && installed("python3")

/// A network namespace of its own per test (the host's rules are never touched), deleted at the end.
///
/// Its loopback is up, so 127.0.0.0/8 are all local addresses; `fd00::2` and `fd00::3` are added to it. A probe
/// listens on 127.0.0.1 (or ::1) and connects to itself from a chosen source address: a banned source's SYN is
/// dropped on input, so its connect times out.
private final class Namespace {
    let name = "feisty-nft-\(UInt32.random(in: 0...UInt32.max))"

    init() throws {
        try run(["ip", "netns", "add", name])
        try run(["ip", "-n", name, "link", "set", "lo", "up"])
        try run(["ip", "-n", name, "addr", "add", "fd00::2/128", "dev", "lo", "nodad"])
        try run(["ip", "-n", name, "addr", "add", "fd00::3/128", "dev", "lo", "nodad"])
    }

    deinit { _ = try? command(["ip", "netns", "delete", name]) }

    var prefix: [String] { ["ip", "netns", "exec", name] }

    @discardableResult
    func run(_ words: [String]) throws -> String {
        let result = try command(words)
        guard result.status == 0 else {
            throw NamespaceError(message: "\(words.joined(separator: " ")): \(result.status) \(result.error)")
        }
        return result.output
    }

    /// Runs `nft` inside the namespace; its exit status.
    func nft(_ arguments: String...) throws -> Int32 {
        try command(prefix + ["nft"] + arguments).status
    }

    /// The interpreter itself, not a launcher shim (pyenv's adds most of a second per run).
    private static let python: String = {
        let found = try? command(["python3", "-c", "import sys; print(sys.executable)"])
        let path = found?.output.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return path.isEmpty ? "python3" : path
    }()

    private static let probe = """
        import socket, sys
        for source in sys.argv[1:]:
            family = socket.AF_INET6 if ":" in source else socket.AF_INET
            target = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            server = socket.socket(family)
            server.bind((target, 0))
            server.listen(8)
            client = socket.socket(family)
            client.settimeout(1.0)
            client.bind((source, 0))
            try:
                client.connect((target, server.getsockname()[1]))
                print(source, "connected")
            except OSError as error:
                print(source, "refused", error)
            client.close()
            server.close()
        """

    /// The sources, among `sources`, that can open a TCP connection to the loopback.
    func connecting(_ sources: String...) throws -> Set<String> {
        let output = try run(prefix + [Self.python, "-c", Self.probe] + sources)
        return Set(
            output.split(separator: "\n").compactMap { line in
                let words = line.split(separator: " ")
                return words.count >= 2 && words[1] == "connected" ? String(words[0]) : nil
            }
        )
    }

    func action() -> NftablesBanAction {
        NftablesBanAction(table: "feisty", commandPrefix: prefix)
    }
}

private struct NamespaceError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The real `nft` in a real network namespace.
@Suite(.enabled(if: namespaceTestsCanRun, "needs root, nft (nftables), ip (iproute2) and python3"))
struct NftablesBanActionNamespaceTests {
    func key(_ text: String) throws -> BanKey { try BanKey(parsing: text) }

    @Test func banDropsTheAddressAndUnbanRestoresIt() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3") == ["127.0.0.2", "127.0.0.3"])
        try await action.ban(key("127.0.0.2"), for: nil)
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3") == ["127.0.0.3"])
        try await action.unban(key("127.0.0.2"))
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3") == ["127.0.0.2", "127.0.0.3"])
        // Unbanning an absent key is no error, nor is banning a key twice (the second takes its timeout).
        try await action.unban(key("127.0.0.2"))
        try await action.ban(key("127.0.0.3"), for: .seconds(600))
        try await action.ban(key("127.0.0.3"), for: .seconds(1200))
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3") == ["127.0.0.2"])
        await action.teardown()
        #expect(try namespace.nft("list", "table", "inet", "feisty") != 0)
        #expect(try namespace.connecting("127.0.0.3") == ["127.0.0.3"])
    }

    @Test func aBanWithATimeoutEndsByItself() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        let clock = ContinuousClock()
        let start = clock.now
        try await action.ban(key("127.0.0.2"), for: .seconds(5))
        // The timeout runs from when nft applied it, at the latest when `ban` returned (nft may be slow to start).
        let applied = clock.now
        let during = try namespace.connecting("127.0.0.2", "127.0.0.3")
        // On a loaded machine the probe may start late; it proves nothing about the ban once that has ended.
        if clock.now - start < .seconds(4) {
            #expect(during == ["127.0.0.3"])
        } else {
            print("aBanWithATimeoutEndsByItself: the probe ran too late to see the ban")
        }
        try await clock.sleep(until: applied + .seconds(5.5))
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3") == ["127.0.0.2", "127.0.0.3"])
    }

    @Test func blocksCoverTheirAddressesAndNeverOverlapInTheSet() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        // 127.0.1.0/24, away from the probe's listener at 127.0.0.1 (its answers would be dropped too).
        try await action.ban(key("127.0.1.2/31"), for: .seconds(600))
        #expect(try namespace.connecting("127.0.1.2", "127.0.1.3", "127.0.1.4") == ["127.0.1.4"])
        // Inside the block: left out of the set (nft refuses overlaps), no error.
        try await action.ban(key("127.0.1.3"), for: nil)
        // A wider block replaces the narrower one.
        try await action.ban(key("127.0.1.0/29"), for: .seconds(600))
        #expect(try namespace.connecting("127.0.1.2", "127.0.1.4", "127.0.1.9") == ["127.0.1.9"])
        let sets = try namespace.run(namespace.prefix + ["nft", "list", "table", "inet", "feisty"])
        #expect(sets.contains("127.0.1.0/29") && !sets.contains("127.0.1.2/31") && !sets.contains("127.0.1.3"))
        try await action.unban(key("127.0.1.0/29"))
        #expect(try namespace.connecting("127.0.1.4") == ["127.0.1.4"])
    }

    @Test func ipv6AddressesAndPrefixes() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        #expect(try namespace.connecting("fd00::2", "fd00::3", "::1") == ["fd00::2", "fd00::3", "::1"])
        try await action.ban(key("fd00::2"), for: .seconds(600))
        #expect(try namespace.connecting("fd00::2", "fd00::3", "::1") == ["fd00::3", "::1"])
        try await action.ban(BanKey(client: IPAddress("fd00::3")!), for: .seconds(600))
        #expect(try namespace.connecting("fd00::2", "fd00::3", "::1") == ["::1"])
        try await action.unban(BanKey(client: IPAddress("fd00::3")!))
        #expect(try namespace.connecting("fd00::3", "::1") == ["fd00::3", "::1"])
        // IPv4 traffic is untouched by IPv6 bans, and an IPv6 block that holds the IPv4-mapped addresses (::/64)
        // neither hides nor replaces IPv4 bans (the kernel matches IPv4 packets in the IPv4 sets only).
        try await action.ban(key("127.0.0.4"), for: nil)
        try await action.ban(key("::/64"), for: nil)
        try await action.ban(key("127.0.0.2"), for: nil)
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3", "127.0.0.4") == ["127.0.0.3"])
    }

    @Test func prepareReplacesAStaleTable() async throws {
        let namespace = try Namespace()
        let first = namespace.action()
        try await first.prepare()
        try await first.ban(key("127.0.0.2"), for: nil)
        #expect(try namespace.connecting("127.0.0.2") == [])
        // A later run (feisty was killed before its teardown) starts from an empty table.
        let second = namespace.action()
        try await second.prepare()
        #expect(try namespace.connecting("127.0.0.2") == ["127.0.0.2"])
        try await second.ban(key("127.0.0.2"), for: nil)
        #expect(try namespace.connecting("127.0.0.2") == [])
    }

    @Test func loadingTenThousandBansIsOneQuickBatch() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        let now = Date()
        var bans: [Ban] = []
        for i in 0..<9_990 {
            let until: Date? = i % 3 == 0 ? nil : now.addingTimeInterval(Double(60 + i))
            bans.append(
                Ban(
                    key: try key("10.\(i >> 16).\(i >> 8 & 255).\(i & 255)"),
                    since: now,
                    until: until,
                    source: .automatic
                )
            )
        }
        for i in 0..<5 {
            let key = BanKey(client: IPAddress("2001:db8:\(i)::1")!)
            bans.append(Ban(key: key, since: now, until: now.addingTimeInterval(600), source: .automatic))
        }
        // Over: left out. Inside a block also banned: left out (the block drops it).
        bans.append(Ban(key: try key("127.0.0.3"), since: now, until: now.addingTimeInterval(-1), source: .manual))
        bans.append(Ban(key: try key("10.200.0.0/16"), since: now, until: nil, source: .manual))
        bans.append(Ban(key: try key("10.200.0.9"), since: now, until: nil, source: .manual))
        bans.append(Ban(key: try key("127.0.0.2"), since: now, until: now.addingTimeInterval(600), source: .manual))
        bans.append(Ban(key: try key("fd00::2"), since: now, until: nil, source: .manual))
        #expect(bans.count == 10_000)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { try await action.load(bans, now: now) }
        print("NftablesBanAction.load: 10,000 bans in \(elapsed)")
        #expect(elapsed < .seconds(10))
        #expect(try namespace.connecting("127.0.0.2", "127.0.0.3", "fd00::2", "fd00::3") == ["127.0.0.3", "fd00::3"])
        #expect(try namespace.nft("get", "element", "inet", "feisty", "banned4_addresses", "{ 10.0.38.14 }") == 0)
        #expect(try namespace.nft("get", "element", "inet", "feisty", "banned4", "{ 10.200.0.0/16 }") == 0)
        #expect(try namespace.nft("get", "element", "inet", "feisty", "banned6_64", "{ 2001:db8:4:: }") == 0)
        // Bans after the load still fit around the loaded ones.
        try await action.ban(key("10.0.38.14"), for: .seconds(5))
        try await action.ban(key("10.0.0.0/8"), for: .seconds(600))
        #expect(try namespace.nft("get", "element", "inet", "feisty", "banned4", "{ 10.0.0.0/8 }") == 0)
    }

    @Test func concurrentBansNeverSendAnOverlap() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        // Blocks and the addresses inside them, all at once: each change is worked out after the previous one.
        var keys = try (0..<40).map { try key("127.0.2.\($0)") }
        keys += try [key("127.0.2.0/28"), key("127.0.2.0/24"), key("127.0.2.16/30"), key("127.0.2.0/26")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in keys.shuffled() {
                group.addTask { try await action.ban(key, for: .seconds(600)) }
            }
            try await group.waitForAll()
        }
        #expect(try namespace.connecting("127.0.2.7", "127.0.2.200", "127.0.3.1") == ["127.0.3.1"])
        try await action.unban(key("127.0.2.0/24"))
        #expect(try namespace.connecting("127.0.3.1") == ["127.0.3.1"])
    }

    /// `FEISTY_BENCH=1`: 100,000 bans, then how long one more ban takes with them in the sets.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEISTY_BENCH"] != nil))
    func benchLoadingAHundredThousandBans() async throws {
        let namespace = try Namespace()
        let action = namespace.action()
        try await action.prepare()
        let now = Date()
        var bans: [Ban] = []
        for i in 0..<90_000 {
            let key = try key("10.\(i >> 16).\(i >> 8 & 255).\(i & 255)")
            bans.append(Ban(key: key, since: now, until: now.addingTimeInterval(Double(600 + i)), source: .automatic))
        }
        for i in 0..<9_990 {
            let key = BanKey(client: IPAddress("2001:db8:\(i >> 8):\(i & 255)::1")!)
            bans.append(Ban(key: key, since: now, until: now.addingTimeInterval(600), source: .automatic))
        }
        for i in 0..<10 {
            bans.append(Ban(key: try key("172.16.\(i).0/24"), since: now, until: nil, source: .manual))
        }
        let clock = ContinuousClock()
        let loading = try await clock.measure { try await action.load(bans, now: now) }
        let banning = try await clock.measure { try await action.ban(key("192.0.2.1"), for: .seconds(60)) }
        let blocking = try await clock.measure { try await action.ban(key("192.0.2.128/25"), for: .seconds(60)) }
        let unbanning = try await clock.measure { try await action.unban(key("10.0.3.4")) }
        print(
            "NftablesBanAction: load 100,000 bans \(loading), then ban an address \(banning), a block \(blocking),"
                + " unban \(unbanning)"
        )
    }

    @Test func notRootIsAGuardErrorWithNftsMessage() async throws {
        let namespace = try Namespace()
        let prefix = namespace.prefix + ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let action = NftablesBanAction(table: "feisty", commandPrefix: prefix)
        do {
            try await action.prepare()
            Issue.record("prepare succeeded as nobody")
        } catch {
            #expect(error.description.hasPrefix("--ban-action nftables: nft failed: "))
            #expect(error.description.contains("Operation not permitted"))
        }
    }
}
