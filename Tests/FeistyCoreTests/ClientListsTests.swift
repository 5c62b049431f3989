import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import FeistyCore

private func address(_ text: String) -> IPAddress { IPAddress(text)! }

private func entries(_ values: [String], flag: String = "--allow") throws -> [AddressListEntry] {
    try AddressLists.parse(values, flag: flag)
}

private func temporaryFile(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-lists-\(UUID()).txt").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private let quietLogger = Logger(label: "client-lists-tests") { _ in SwiftLogNoOpLogHandler() }

@Suite struct ClientListsParsingTests {
    @Test(
        arguments: [
            ("192.0.2.7", "192.0.2.7"),
            (" 192.0.2.7\t", "192.0.2.7"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("2001:db8::/32", "2001:db8:0:0:0:0:0:0/32"),
            ("2001:db8::1", "2001:db8:0:0:0:0:0:1"),
            ("api.example.com", "api.example.com"),
            ("API.Example.COM.", "api.example.com"),
            ("localhost", "localhost"),
            ("my_host-1.internal", "my_host-1.internal"),
            ("*.googlebot.com", "*.googlebot.com"),
            (".GoogleBot.com", "*.googlebot.com"),
            ("*.search.msn.com.", "*.search.msn.com"),
        ]
    )
    func goodEntry(text: String, expected: String) throws {
        let entry = try #require(AddressListEntry(parsing: text))
        #expect(entry.description == expected)
    }

    @Test func entryKinds() {
        #expect(AddressListEntry(parsing: "api.example.com") == .hostName("api.example.com"))
        #expect(AddressListEntry(parsing: "*.googlebot.com") == .reverse(ReversePattern(suffix: "googlebot.com")!))
        #expect(AddressListEntry(parsing: "10.0.0.0/8") == .network(try! IPNetwork(parsing: "10.0.0.0/8")))
    }

    @Test(
        arguments: [
            "", "   ", "300.1.1.1", "1.2.3", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/x", "2001:db8:::1",
            "*", "*.", ".", "*.*.example.com", "**.example.com", "foo..bar", "-foo.com", "foo-.com", "a b",
            "exa mple.com", "http://example.com", "example.com/path", "é.example.com",
            String(repeating: "a", count: 64) + ".com",
        ]
    )
    func badEntry(text: String) throws {
        #expect(AddressListEntry(parsing: text) == nil)
        let error = #expect(throws: GuardError.self) { try entries([text], flag: "--deny") }
        #expect(error == .invalidListEntry(flag: "--deny", file: nil, line: nil, text: text))
    }

    @Test func flagErrorMessage() {
        let error = GuardError.invalidListEntry(flag: "--deny", file: nil, line: nil, text: "300.1.1.1")
        #expect(error.description == #"--deny: "300.1.1.1" is not an address, CIDR, host name or *.pattern"#)
    }

    @Test func fileEntries() throws {
        let path = try temporaryFile(
            """
            # office networks
            10.0.0.0/8
              192.0.2.7   # the monitor

            api.example.com
            *.googlebot.com\r
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let parsed = try entries(["198.51.100.1", "@\(path)", "::1"])
        #expect(
            parsed.map(\.description) == [
                "198.51.100.1", "10.0.0.0/8", "192.0.2.7", "api.example.com", "*.googlebot.com", "0:0:0:0:0:0:0:1",
            ]
        )
    }

    @Test func fileWithBadLine() throws {
        let path = try temporaryFile("10.0.0.0/8\n# comment\n300.1.1.1\n192.0.2.1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GuardError.self) { try entries(["@\(path)"], flag: "--deny") }
        #expect(error == .invalidListEntry(flag: "--deny", file: path, line: 3, text: "300.1.1.1"))
        #expect(
            error?.description
                == #"--deny: line 3 of \#(path): "300.1.1.1" is not an address, CIDR, host name or *.pattern"#
        )
    }

    @Test func nestedFile() throws {
        let path = try temporaryFile("10.0.0.0/8\n@/etc/other\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GuardError.self) { try entries(["@\(path)"], flag: "--priority") }
        #expect(error == .nestedListFile(flag: "--priority", file: path, line: 2, text: "@/etc/other"))
    }

    @Test func missingFile() {
        let error = #expect(throws: GuardError.self) { try entries(["@/no/such/feisty-list"]) }
        #expect(error == .unreadableListFile(flag: "--allow", path: "/no/such/feisty-list", reason: "no such file"))
        #expect(error?.description == "--allow: cannot read @/no/such/feisty-list: no such file")
    }

    @Test func threeFlags() throws {
        let lists = try AddressLists(parsingAllow: ["10.0.0.0/8", "localhost"], deny: ["*.example.net"], priority: [])
        #expect(lists.allow.count == 2)
        #expect(lists.hostNames == ["localhost"])
        #expect(lists.hasReversePatterns)
        #expect(!lists.isEmpty)
        #expect(try AddressLists(parsingAllow: [], deny: [], priority: []).isEmpty)
        let error = #expect(throws: GuardError.self) {
            try AddressLists(parsingAllow: [], deny: [], priority: ["bad value"])
        }
        #expect(error == .invalidListEntry(flag: "--priority", file: nil, line: nil, text: "bad value"))
    }
}

@Suite struct ClientListsReversePatternTests {
    @Test(
        arguments: [
            ("*.googlebot.com", "crawl-66-249-66-1.googlebot.com", true),
            ("*.googlebot.com", "CRAWL-66-249-66-1.GoogleBot.com.", true),
            ("*.googlebot.com", "a.b.googlebot.com", true),
            ("*.googlebot.com", "googlebot.com", false),
            ("*.googlebot.com", "evilgooglebot.com", false),
            ("*.googlebot.com", "googlebot.com.evil.net", false),
            ("*.googlebot.com", ".googlebot.com", false),
            ("*.localhost", "localhost", false),
            (".example.org", "www.example.org", true),
        ]
    )
    func matches(pattern: String, name: String, expected: Bool) throws {
        let parsed = try #require(ReversePattern(parsing: pattern))
        #expect(parsed.matches(name: name) == expected)
    }
}

@Suite struct ClientListsMembershipTests {
    static let lists = try! AddressLists(
        parsingAllow: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "api.example.com"],
        deny: ["10.1.0.0/16", "198.51.100.0/24", "2001:db8:dead::/48"],
        priority: ["192.0.2.0/24", "2001:db8:1::/48", "api.example.com"]
    )
    static let snapshot = ClientListsSnapshot(
        lists: lists,
        hostAddresses: ["api.example.com": [IPAddress("203.0.113.10")!, IPAddress("2001:db8:ffff::10")!]]
    )

    static let cases: [(String, ClientListMembership)] = [
        ("10.2.3.4", ClientListMembership.allowed),
        ("::ffff:10.2.3.4", .allowed),
        ("10.1.2.3", .denied),  // on both lists: deny wins
        ("192.0.2.7", [.allowed, .priority]),
        ("192.0.2.8", .priority),
        ("198.51.100.200", .denied),
        ("203.0.113.10", [.allowed, .priority]),
        ("203.0.113.11", []),
        ("2001:db8:ffff::10", [.allowed, .priority]),
        ("2001:db8:1::5", [.allowed, .priority]),
        ("2001:db8:dead::1", .denied),
        ("2001:db8:2::1", .allowed),
        ("2001:db9::1", []),
        ("11.0.0.1", []),
        ("::1", []),
    ]

    @Test(arguments: cases)
    func membership(client: String, expected: ClientListMembership) {
        #expect(Self.snapshot.membership(of: address(client)) == expected)
        #expect(!Self.snapshot.needsReverseCheck(address(client)))
    }

    @Test func emptyLists() {
        #expect(ClientListsSnapshot.empty.membership(of: address("192.0.2.1")) == [])
        #expect(ClientListsSnapshot(lists: AddressLists()).membership(of: address("::1")) == [])
    }

    @Test func zeroLengthPrefix() throws {
        let snapshot = ClientListsSnapshot(
            lists: try AddressLists(parsingAllow: [], deny: ["0.0.0.0/0"], priority: ["::/0"])
        )
        #expect(snapshot.membership(of: address("192.0.2.1")) == [.denied, .priority])
        #expect(snapshot.membership(of: address("2001:db8::1")) == .priority)
    }

    @Test func thousandsOfNetworks() throws {
        // 20 000 /24 blocks and 20 000 single addresses make two hash tables, not a scan.
        var networks: [String] = []
        for index in 0..<20_000 { networks.append("10.\(index / 256).\(index % 256).0/24") }
        for index in 0..<20_000 { networks.append("172.16.\(index / 256).\(index % 256)") }
        let snapshot = ClientListsSnapshot(lists: try AddressLists(parsingAllow: networks, deny: [], priority: []))
        #expect(snapshot.table.levels.count == 2)
        #expect(snapshot.membership(of: address("10.78.31.200")) == .allowed)
        #expect(snapshot.membership(of: address("10.79.0.1")) == [])
        #expect(snapshot.membership(of: address("172.16.78.31")) == .allowed)
        #expect(snapshot.membership(of: address("172.16.78.32")) == [])
        let clock = ContinuousClock()
        let probe = address("10.200.1.1")
        let elapsed = clock.measure {
            for _ in 0..<100_000 { _ = snapshot.membership(of: probe) }
        }
        #expect(elapsed < .seconds(2))  // about 0.1 µs a lookup in release; generous for debug builds
    }

    @Test func reverseResultsCountOnceChecked() throws {
        let lists = try AddressLists(parsingAllow: ["*.googlebot.com"], deny: [], priority: ["*.googlebot.com"])
        let bot = address("66.249.66.1")
        let unchecked = ClientListsSnapshot(lists: lists)
        #expect(unchecked.membership(of: bot) == [])
        #expect(unchecked.needsReverseCheck(bot))
        let checked = ClientListsSnapshot(lists: lists, reverseResults: [bot: [.allowed, .priority]])
        #expect(checked.membership(of: bot) == [.allowed, .priority])
        #expect(!checked.needsReverseCheck(bot))
        #expect(checked.needsReverseCheck(address("66.249.66.2")))
    }
}

/// A fake DNS: fixed PTR names, forward answers that a test may change.
private final class FakeDNS: Sendable {
    let forwardAnswers: Mutex<[String: Result<[IPAddress], DNSLookupError>]>
    let reverseNames: [IPAddress: String]
    let lookups = Mutex<[String]>([])

    init(forward: [String: [String]], reverse: [String: String]) {
        forwardAnswers = Mutex(forward.mapValues { .success($0.map { IPAddress($0)! }) })
        reverseNames = Dictionary(uniqueKeysWithValues: reverse.map { (IPAddress($0.key)!, $0.value) })
    }

    var lookup: DNSLookup {
        DNSLookup(
            forward: { name in
                self.lookups.withLock { $0.append("A \(name)") }
                return self.forwardAnswers.withLock { $0[name] }
                    ?? .failure(DNSLookupError("Name or service not known"))
            },
            reverse: { address in
                self.lookups.withLock { $0.append("PTR \(address)") }
                return self.reverseNames[address]
            }
        )
    }
}

@Suite struct ClientListsResolverTests {
    @Test func systemResolvesLocalhostFromEtcHosts() async throws {
        let lists = try AddressLists(parsingAllow: ["localhost"], deny: ["no-such-host.invalid"], priority: [])
        let resolver = ClientListsResolver(lists: lists, logger: quietLogger)
        #expect(resolver.current.membership(of: address("127.0.0.1")) == [])
        await resolver.resolveInitial()
        #expect(resolver.current.membership(of: address("127.0.0.1")) == .allowed)
        #expect(resolver.current.membership(of: address("127.0.0.2")) == [])
    }

    @Test func systemLookups() throws {
        let forward = try DNSLookup.system.forward("localhost").get()
        #expect(forward.contains(address("127.0.0.1")) || forward.contains(address("::1")))
        #expect(throws: DNSLookupError.self) { try DNSLookup.system.forward("no-such-host.invalid").get() }
        // 192.0.2.0/24 is documentation space: no PTR record anywhere.
        #expect(DNSLookup.system.reverse(address("192.0.2.123")) == nil)
    }

    /// The real reverse path on loopback: 127.0.0.1's PTR name (from /etc/hosts, `localhost` here) must resolve
    /// back to 127.0.0.1. A pattern is built from that name; `*.SUFFIX` matches only names strictly under SUFFIX,
    /// so a one-label name such as `localhost` must not match `*.localhost`.
    @Test func systemReverseCheckOfLoopback() async throws {
        let loopback = address("127.0.0.1")
        let name = try #require(DNSLookup.system.reverse(loopback))
        #expect(try DNSLookup.system.forward(name).get().contains(loopback))
        let labels = name.split(separator: ".")
        let pattern = labels.count > 1 ? "*." + labels.dropFirst().joined(separator: ".") : "*.\(name)"
        let lists = try AddressLists(parsingAllow: [pattern], deny: [], priority: [])
        let resolver = ClientListsResolver(lists: lists, logger: quietLogger)
        #expect(resolver.membership(of: loopback) == [])
        #expect(resolver.pendingCount == 1)
        await resolver.checkPendingClients()
        #expect(!resolver.current.needsReverseCheck(loopback))
        #expect(resolver.membership(of: loopback) == (labels.count > 1 ? .allowed : []))
        #expect(resolver.pendingCount == 0)
    }

    @Test func forwardConfirmedReverseDNS() async throws {
        let dns = FakeDNS(
            forward: [
                "crawl-66-249-66-1.googlebot.com": ["66.249.66.1", "2001:4860:4801::1"],
                "spoof.googlebot.com": ["66.249.66.99"],
                "mail.example.net": ["192.0.2.50"],
            ],
            reverse: [
                "66.249.66.1": "crawl-66-249-66-1.googlebot.com",
                "203.0.113.5": "spoof.googlebot.com",  // claims to be Googlebot; the name does not point back
                "192.0.2.50": "mail.example.net",
            ]
        )
        let lists = try AddressLists(
            parsingAllow: ["*.googlebot.com"],
            deny: ["*.example.net"],
            priority: ["*.googlebot.com"]
        )
        let resolver = ClientListsResolver(lists: lists, logger: quietLogger, lookup: dns.lookup)
        let bot = address("66.249.66.1")
        let spoof = address("203.0.113.5")
        let mail = address("192.0.2.50")
        let nameless = address("198.51.100.1")
        for client in [bot, spoof, mail, nameless, bot] { #expect(resolver.membership(of: client) == []) }
        #expect(resolver.pendingCount == 4)  // deduplicated
        await resolver.checkPendingClients()
        #expect(resolver.membership(of: bot) == [.allowed, .priority])
        #expect(resolver.membership(of: address("::ffff:66.249.66.1")) == [.allowed, .priority])
        #expect(resolver.membership(of: spoof) == [])
        #expect(resolver.membership(of: mail) == .denied)
        #expect(resolver.membership(of: nameless) == [])
        #expect(resolver.pendingCount == 0)  // all checked: nothing noted again
        let lookups = dns.lookups.withLock { $0 }
        #expect(lookups.contains("A mail.example.net"))  // the PTR name matched a pattern: confirmed forward
        #expect(lookups.filter { $0.hasPrefix("PTR") }.count == 4)
        // Results expire after --dns-refresh; the clients are then checked again.
        resolver.expireReverseChecks(now: .now.advanced(by: resolver.dnsRefresh))
        #expect(resolver.current.needsReverseCheck(bot))
        #expect(resolver.membership(of: bot) == [])
    }

    @Test func pendingQueueIsBounded() throws {
        let lists = try AddressLists(parsingAllow: ["*.example.com"], deny: [], priority: [])
        let resolver = ClientListsResolver(
            lists: lists,
            logger: quietLogger,
            lookup: FakeDNS(forward: [:], reverse: [:]).lookup,
            pendingLimit: 3
        )
        for index in 1...10 { resolver.noteClient(address("192.0.2.\(index)")) }
        resolver.noteClient(address("192.0.2.1"))
        #expect(resolver.pendingCount == 3)
        let plain = ClientListsResolver(
            lists: try AddressLists(parsingAllow: ["192.0.2.0/24"], deny: [], priority: []),
            logger: quietLogger
        )
        plain.noteClient(address("192.0.2.1"))
        #expect(plain.pendingCount == 0)  // no reverse patterns: nothing to check
    }

    @Test func refreshKeepsAddressesOnFailure() async throws {
        let dns = FakeDNS(forward: ["api.example.com": ["192.0.2.9"]], reverse: [:])
        let lists = try AddressLists(parsingAllow: [], deny: [], priority: ["api.example.com"])
        let resolver = ClientListsResolver(lists: lists, logger: quietLogger, lookup: dns.lookup)
        await resolver.resolveInitial()
        #expect(resolver.membership(of: address("192.0.2.9")) == .priority)
        dns.forwardAnswers.withLock { $0["api.example.com"] = .failure(DNSLookupError("Temporary failure")) }
        await resolver.refreshHostNames()
        #expect(resolver.membership(of: address("192.0.2.9")) == .priority)
        dns.forwardAnswers.withLock { $0["api.example.com"] = .success([address("192.0.2.10")]) }
        await resolver.refreshHostNames()
        #expect(resolver.membership(of: address("192.0.2.9")) == [])
        #expect(resolver.membership(of: address("192.0.2.10")) == .priority)
    }

    @Test func serviceChecksNotedClients() async throws {
        let dns = FakeDNS(forward: ["a.example.com": ["192.0.2.1"]], reverse: ["192.0.2.1": "a.example.com"])
        let lists = try AddressLists(parsingAllow: ["*.example.com"], deny: [], priority: [])
        let resolver = ClientListsResolver(lists: lists, logger: quietLogger, lookup: dns.lookup)
        let client = address("192.0.2.1")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await resolver.run() }
            _ = resolver.membership(of: client)
            var waited = 0
            while resolver.membership(of: client) != .allowed, waited < 500 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(resolver.membership(of: client) == .allowed)
            group.cancelAll()
        }
    }
}

extension ClientListsResolverTests {
    @Test func serviceStopsOnGracefulShutdown() async throws {
        let dns = FakeDNS(forward: ["api.example.com": ["192.0.2.9"]], reverse: [:])
        let lists = try AddressLists(parsingAllow: ["api.example.com"], deny: [], priority: ["*.example.com"])
        let resolver = ClientListsResolver(
            lists: lists,
            dnsRefresh: .milliseconds(20),
            logger: quietLogger,
            lookup: dns.lookup
        )
        let group = ServiceGroup(services: [resolver], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var waited = 0
            while dns.lookups.withLock({ $0.count }) < 3, waited < 500 {  // the initial lookup and two refreshes
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(resolver.membership(of: address("192.0.2.9")) == .allowed)
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }
}

@Suite struct ClientListsCacheTests {
    @Test func boundedAndExpiring() {
        var cache = ReverseCheckCache(limit: 2, lifetime: .seconds(10))
        let start = ContinuousClock.now
        cache.record(.allowed, for: address("192.0.2.1"), at: start)
        cache.record([], for: address("192.0.2.2"), at: start.advanced(by: .seconds(1)))
        cache.record(.denied, for: address("192.0.2.3"), at: start.advanced(by: .seconds(2)))
        #expect(cache.count == 2)
        #expect(!cache.contains(address("192.0.2.1")))  // the oldest went first
        let early = cache.expire(now: start.advanced(by: .seconds(10)))
        #expect(!early)
        let due = cache.expire(now: start.advanced(by: .seconds(11)))
        #expect(due)
        #expect(!cache.contains(address("192.0.2.2")))
        #expect(cache.results[address("192.0.2.3").bits] == .denied)
        let last = cache.expire(now: start.advanced(by: .seconds(12)))
        #expect(last)
        #expect(cache.count == 0)
    }
}
