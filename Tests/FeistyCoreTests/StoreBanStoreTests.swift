import Foundation
import Testing

@testable import FeistyCore

/// The ban store on a real SQLite file in a fresh temporary directory per test.
@Suite struct StoreBanStoreTests {
    let directory: String
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-store-\(UUID())").path
    }

    func key(_ text: String) throws -> BanKey { try BanKey(parsing: text) }

    func ban(_ text: String, for seconds: Double?, source: BanSource = .automatic, at start: Date? = nil) throws
        -> Ban
    {
        let since = start ?? t0
        return Ban(
            key: try key(text), since: since, until: seconds.map { since.addingTimeInterval($0) },
            reason: "test", evidence: "/.env", source: source
        )
    }

    @Test func migratesAnEmptyDirectoryAndReopens() throws {
        let store = try BanStore(directory: directory + "/nested/app")
        #expect(try store.activeBans(at: t0).isEmpty)
        #expect(try store.generation() == 0)
        try store.add(try ban("192.0.2.7", for: 60))
        let reopened = try BanStore(directory: directory + "/nested/app")
        #expect(try reopened.activeBans(at: t0).map(\.key.description) == ["192.0.2.7"])
    }

    @Test func keysAreCanonical() throws {
        #expect(try key("192.0.2.7/32").description == "192.0.2.7")
        #expect(try key("10.1.2.3/8").description == "10.0.0.0/8")
        #expect(try key("2001:db8:1:2::99/64").description == "2001:db8:1:2:0:0:0:0/64")
        #expect(BanKey(client: IPAddress("2001:db8:1:2::99")!).description == "2001:db8:1:2:0:0:0:0/64")
        #expect(BanKey(client: IPAddress("192.0.2.9")!).description == "192.0.2.9")
        #expect(try key("2001:db8:1:2::/64").covers(IPAddress("2001:db8:1:2:ffff::1")!))
        #expect(throws: StoreError.invalidKey("300.1.1.1")) { try BanKey(parsing: "300.1.1.1") }
        #expect(throws: StoreError.invalidKey("10.0.0.0/33")) { try BanKey(parsing: "10.0.0.0/33") }
    }

    @Test func addReplaceRemove() throws {
        let store = try BanStore(directory: directory)
        try store.add(try ban("192.0.2.7", for: 60))
        try store.add(try ban("192.0.2.7/32", for: 120, source: .manual))
        let bans = try store.activeBans(at: t0)
        #expect(bans.count == 1)
        #expect(bans.first?.until == t0.addingTimeInterval(120))
        #expect(bans.first?.source == .manual)
        #expect(try store.remove(key: try key("192.0.2.7")))
        #expect(try !store.remove(key: try key("192.0.2.7")))
        #expect(try store.activeBans(at: t0).isEmpty)
    }

    @Test func expiryAndForever() throws {
        let store = try BanStore(directory: directory)
        try store.add(contentsOf: [try ban("192.0.2.1", for: 60), try ban("192.0.2.2", for: nil, source: .manual)])
        let early = try store.activeBans(at: t0.addingTimeInterval(59))
        #expect(Set(early.map(\.key.description)) == ["192.0.2.1", "192.0.2.2"])
        let later = t0.addingTimeInterval(60)
        #expect(try store.activeBans(at: later).map(\.key.description) == ["192.0.2.2"])
        #expect(try store.activeBans(at: later).first?.until == nil)
        #expect(try store.pruneExpired(before: later) == 1)
        #expect(try store.pruneExpired(before: t0.addingTimeInterval(1e9)) == 0)  // forever stays
        #expect(try store.records(at: later).map(\.ban.key.description) == ["192.0.2.2"])
    }

    @Test func repeatCountsCountAutomaticBansAndOutliveThem() throws {
        let store = try BanStore(directory: directory)
        let scanner = try key("198.51.100.4")
        #expect(try store.repeatCount(key: scanner) == 0)
        #expect(try store.add(try ban("198.51.100.4", for: 600)).repeatCount == 1)
        try store.pruneExpired(before: t0.addingTimeInterval(601))
        #expect(try store.add(try ban("198.51.100.4", for: 1200, at: t0.addingTimeInterval(700))).repeatCount == 2)
        try store.remove(key: scanner)
        #expect(try store.repeatCount(key: scanner) == 2)
        #expect(try store.add(try ban("198.51.100.4", for: nil, source: .manual)).repeatCount == 2)
    }

    @Test func strikeHistoryIsBounded() throws {
        let store = try BanStore(directory: directory)
        let client = try key("203.0.113.5")
        try store.recordStrikes(
            (0..<10).map { Strike(key: client, time: t0.addingTimeInterval(Double($0)), path: "/p\($0)") }
        )
        #expect(try store.strikes(key: client, since: t0.addingTimeInterval(7)).map(\.path) == ["/p7", "/p8", "/p9"])
        #expect(try store.pruneStrikes(before: t0.addingTimeInterval(2), keepingAtMost: 5) == 5)
        #expect(try store.strikes(key: client, since: t0).map(\.path) == ["/p5", "/p6", "/p7", "/p8", "/p9"])
    }

    @Test func aSecondInstanceSeesChangesThroughTheGeneration() throws {
        let daemon = try BanStore(directory: directory)
        let cli = try BanStore(directory: directory)
        let start = try daemon.snapshot(at: t0)
        #expect(try daemon.changes(since: start.generation, at: t0) == nil)

        try cli.add(try ban("192.0.2.50", for: nil, source: .manual))
        let afterAdd = try #require(try daemon.changes(since: start.generation, at: t0))
        #expect(afterAdd.bans.map(\.key.description) == ["192.0.2.50"])
        #expect(try daemon.changes(since: afterAdd.generation, at: t0) == nil)

        try cli.remove(key: try key("192.0.2.50"))
        let afterRemove = try #require(try daemon.changes(since: afterAdd.generation, at: t0))
        #expect(afterRemove.bans.isEmpty)
    }

    @Test func concurrentWritersFromTwoInstancesLoseNothing() async throws {
        let one = try BanStore(directory: directory)
        let two = try BanStore(directory: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in [one, two].enumerated() {
                group.addTask {
                    for n in 0..<50 {
                        let key = try BanKey(parsing: "10.\(index).0.\(n)")
                        try store.add(Ban(key: key, since: self.t0, until: nil, source: .automatic))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try one.activeBans(at: t0).count == 100)
        #expect(try two.generation() == 100)
    }

    @Test func aBanSurvivesKillDashNine() async throws {
        // The child process adds a ban and SIGKILLs itself the moment `add` returns.
        setenv("FEISTY_STORE_TEST_DIR", directory, 1)
        await #expect(processExitsWith: .signal(SIGKILL)) {
            let directory = ProcessInfo.processInfo.environment["FEISTY_STORE_TEST_DIR"]!
            let store = try BanStore(directory: directory)
            try store.add(Ban(key: try BanKey(parsing: "192.0.2.99"), since: Date(), until: nil, source: .manual))
            kill(getpid(), SIGKILL)
        }
        #expect(try BanStore(directory: directory).activeBans(at: Date()).map(\.key.description) == ["192.0.2.99"])
    }

    @Test func clearErrors() throws {
        // A file where the directory should be.
        _ = FileManager.default.createFile(atPath: directory, contents: Data("x".utf8))
        #expect {
            try BanStore(directory: directory)
        } throws: { error in
            guard case .unwritableDirectory = error as? StoreError else { return false }
            return "\(error)".contains(directory)
        }

        let garbage = directory + "-corrupt"
        try FileManager.default.createDirectory(atPath: garbage, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: garbage + "/bans.sqlite", contents: Data(repeating: 0x41, count: 8192))
        #expect {
            try BanStore(directory: garbage)
        } throws: { error in
            guard case .corruptFile = error as? StoreError else { return false }
            return true
        }
    }

    @Test func refusesASchemaFromANewerFeisty() throws {
        let newer = directory + "-newer"
        _ = try BanStore(directory: newer)
        // A later feisty's migration, recorded the way GRDB records it.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                + "c.execute(\"INSERT INTO grdb_migrations VALUES ('v9: future')\"); c.commit()",
            newer + "/bans.sqlite",
        ]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        #expect(throws: StoreError.newerSchema(path: newer + "/bans.sqlite", unknownMigrations: ["v9: future"])) {
            try BanStore(directory: newer)
        }
    }

    @Test func durationsReuseTheProxyParser() throws {
        #expect(try BanDuration.seconds(parsing: "forever") == nil)
        #expect(try BanDuration.seconds(parsing: "10m") == 600)
        #expect(try BanDuration.seconds(parsing: "1.5") == 1.5)
        #expect(throws: StoreError.invalidDuration("0")) { try BanDuration.seconds(parsing: "0") }
        #expect(throws: StoreError.invalidDuration("soon")) { try BanDuration.seconds(parsing: "soon") }
    }

    @Test func defaultStateDirectory() {
        #expect(StateDirectory.defaultPath(environment: ["HOME": "/home/a"], isRoot: true) == "/var/lib/feisty")
        #expect(
            StateDirectory.defaultPath(environment: ["HOME": "/home/a"], isRoot: false) == "/home/a/.local/state/feisty"
        )
        #expect(
            StateDirectory.defaultPath(environment: ["HOME": "/home/a", "XDG_STATE_HOME": "/s"], isRoot: false)
                == "/s/feisty"
        )
        #expect(
            StateDirectory.defaultPath(environment: ["HOME": "/home/a", "XDG_STATE_HOME": "rel"], isRoot: false)
                == "/home/a/.local/state/feisty"
        )
    }

    /// 100,000 bans written in one transaction, then loaded as a starting feisty does. Prints numbers; asserts
    /// only the count. Run with `FEISTY_BENCH=1 swift test --filter StoreBanStoreTests/loadBench`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEISTY_BENCH"] != nil))
    func loadBench() throws {
        let store = try BanStore(directory: directory)
        let bans = (0..<100_000).map { n in
            let v6 = "2001:db8:\(String(n >> 16, radix: 16)):\(String(n & 0xffff, radix: 16))::1"
            let key =
                n % 2 == 0
                ? BanKey(client: IPAddress("10.\(n >> 16 & 255).\(n >> 8 & 255).\(n & 255)")!)
                : BanKey(client: IPAddress(v6)!)
            return Ban(key: key, since: t0, until: n % 3 == 0 ? nil : t0.addingTimeInterval(3600),
                       reason: "5 undeclared paths in 10m", evidence: "/.env /wp-login.php", source: .automatic)
        }
        let clock = ContinuousClock()
        let insert = try clock.measure { try store.add(contentsOf: bans) }
        let reopenStart = clock.now
        let fresh = try BanStore(directory: directory)
        let open = clock.now - reopenStart
        var loaded = 0
        let load = try clock.measure { loaded = try fresh.activeBans(at: t0).count }
        let poll = try clock.measure { for _ in 0..<1000 { _ = try fresh.changes(since: 100_000, at: t0) } }
        var singles = Duration.zero
        for n in 0..<20 {
            singles += try clock.measure { try fresh.add(try ban("172.16.0.\(n)", for: 60)) }
        }
        print("BENCH bans=\(loaded) insert_one_txn=\(insert) open=\(open) activeBans=\(load) "
            + "unchanged_poll=\(poll / 1000) single_durable_add=\(singles / 20)")
        #expect(loaded == 100_000)
    }
}
