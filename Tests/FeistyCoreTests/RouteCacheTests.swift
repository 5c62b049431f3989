import Foundation
import Testing

@testable import FeistyCore

/// The route cache's decisions (freshness, keys) as values, and its folder handling on real files.
@Suite struct RouteCacheTests {
    static let key = RouteCacheKey(
        python: "python3",
        app: "app.py",
        workingDirectory: "/srv",
        staticOnly: false,
        probeSource: "probe v1",
        environment: ["PATH": "/usr/bin", "PORT": "8080"]
    )
    static let stamp = FileStamp(path: "/srv/app.py", kind: .file, size: 10, modified: 1, changed: 1, inode: 7)

    enum Now: String, CaseIterable {
        case same, grown, touched, rewritten, replaced, removed, becameFolder
    }

    @Test(arguments: Now.allCases)
    func anEntryIsFreshOnlyWhileEveryStampIsTheSame(now: Now) {
        var current = Self.stamp
        switch now {
        case .same: break
        case .grown: current.size += 1
        case .touched: current.modified += 1
        case .rewritten: current.changed += 1
        case .replaced: current.inode += 1
        case .removed: current = FileStamp(path: current.path, kind: .absent)
        case .becameFolder: current.kind = .directory
        }
        let entry = RouteCacheEntry(key: Self.key, stamps: [Self.stamp], answer: "{}")
        let expected: RouteCacheFreshness = now == .same ? .fresh : .changed(path: "/srv/app.py")
        #expect(entry.freshness(for: Self.key, now: { _ in current }) == expected)
    }

    @Test func aMissingFileThatStaysMissingKeepsTheEntry() {
        let absent = FileStamp(path: "/srv/settings.json", kind: .absent)
        let entry = RouteCacheEntry(key: Self.key, stamps: [absent], answer: "{}")
        #expect(entry.freshness(for: Self.key, now: { FileStamp(path: $0, kind: .absent) }) == .fresh)
        #expect(entry.freshness(for: Self.key, now: { _ in Self.stamp }) == .changed(path: "/srv/settings.json"))
    }

    @Test func anotherKeyOrFormatIsNeverAnswered() {
        var entry = RouteCacheEntry(key: Self.key, stamps: [], answer: "{}")
        var other = Self.key
        other.app = "other.py"
        #expect(entry.freshness(for: other, now: FileStamp.current(path:)) == .otherKey)
        entry.format = RouteCacheEntry.currentFormat + 1
        #expect(entry.freshness(for: Self.key, now: FileStamp.current(path:)) == .otherFormat)
    }

    @Test func theEnvironmentDigestIgnoresOrderButNotValues() {
        func key(_ environment: [String: String]) -> RouteCacheKey {
            RouteCacheKey(
                python: "python3",
                app: "app.py",
                workingDirectory: "/",
                staticOnly: false,
                probeSource: "p",
                environment: environment
            )
        }
        #expect(key(["A": "1", "B": "2"]) == key(["B": "2", "A": "1"]))
        #expect(key(["A": "1", "B": "2"]) != key(["A": "1", "B": "3"]))
        // Name and value boundaries count: A=1B, B= is not A=1, B=B.
        #expect(key(["A": "1B", "B": ""]) != key(["A": "1", "B": "B"]))
        #expect(!key(["SECRET": "hunter2"]).environment.contains("hunter2"))
    }

    @Test func stampsDecodeFromTheProbesArrays() throws {
        let json = #"[["/srv/app.py", "file", 10, 1, 1, 7, 0], ["/srv", "directory", 4096, 2, 3, 4, 5]]"#
        let stamps = try JSONDecoder().decode([FileStamp].self, from: Data(json.utf8))
        #expect(stamps[0] == Self.stamp)
        #expect(
            stamps[1]
                == FileStamp(path: "/srv", kind: .directory, size: 4096, modified: 2, changed: 3, inode: 4, device: 5)
        )
        let again = try JSONDecoder().decode([FileStamp].self, from: JSONEncoder().encode(stamps))
        #expect(again == stamps)
    }

    @Test func currentStampsFollowRealFiles() throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/app.py"
        #expect(FileStamp.current(path: path).kind == .absent)
        try "a".write(toFile: path, atomically: false, encoding: .utf8)
        let first = FileStamp.current(path: path)
        #expect(first.kind == .file && first.size == 1 && first.inode != 0)
        try "b".write(toFile: path, atomically: true, encoding: .utf8)  // a new file renamed over it
        #expect(FileStamp.current(path: path) != first)
        #expect(FileStamp.current(path: folder.path).kind == .directory)
    }

    @Test func aStoredAnswerComesBackUntilAStampedFileChanges() throws {
        let folder = try TemporaryFolder()
        let source = folder.path + "/app.py"
        try "v1".write(toFile: source, atomically: false, encoding: .utf8)
        let cache = RouteTableCache(directory: folder.path + "/cache/routes")
        #expect(cache.answer(for: Self.key) == nil)
        cache.store(#"{"rules": []}"#, dependencies: try dependencies([FileStamp.current(path: source)]), for: Self.key)
        #expect(cache.answer(for: Self.key) == #"{"rules": []}"#)
        try "v2!".write(toFile: source, atomically: false, encoding: .utf8)
        #expect(cache.answer(for: Self.key) == nil)
    }

    @Test func anUncacheableExtractionIsNotKept() throws {
        let folder = try TemporaryFolder()
        let cache = RouteTableCache(directory: folder.path + "/routes")
        let line = #"{"dependencies": {"stamps": [], "uncacheable": "importing the app started a process"}}"#
        cache.store("{}", dependencies: line, for: Self.key)
        #expect(cache.answer(for: Self.key) == nil)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/routes"))?.isEmpty ?? true)
    }

    @Test func aFolderOthersCanWriteIsNeitherReadNorWritten() throws {
        let folder = try TemporaryFolder()
        let cache = RouteTableCache(directory: folder.path + "/routes")
        cache.store("{}", dependencies: try dependencies([]), for: Self.key)
        #expect(cache.answer(for: Self.key) == "{}")
        chmod(cache.directory, 0o777)
        #expect(cache.answer(for: Self.key) == nil)
        var other = Self.key
        other.app = "other.py"
        cache.store("{}", dependencies: try dependencies([]), for: other)
        #expect(cache.answer(for: other) == nil)
    }

    @Test func theOldestEntriesGoPastTheCapacity() throws {
        let folder = try TemporaryFolder()
        let cache = RouteTableCache(directory: folder.path + "/routes", capacity: 3)
        var keys: [RouteCacheKey] = []
        for index in 0..<5 {
            var key = Self.key
            key.app = "app\(index).py"
            keys.append(key)
            cache.store("{}", dependencies: try dependencies([]), for: key)
            // Modification times order the entries; make each one later than the last on a coarse clock.
            let entry = cache.directory + "/" + key.fileName
            var times = [timespec(tv_sec: 1_000 + index, tv_nsec: 0), timespec(tv_sec: 1_000 + index, tv_nsec: 0)]
            utimensat(AT_FDCWD, entry, &times, 0)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory).count == 3)
        #expect(cache.answer(for: keys[0]) == nil)
        #expect(cache.answer(for: keys[4]) == "{}")
    }

    private func dependencies(_ stamps: [FileStamp]) throws -> String {
        struct Line: Encodable {
            struct Dependencies: Encodable {
                var stamps: [FileStamp]
            }
            var dependencies: Dependencies
        }
        return String(decoding: try JSONEncoder().encode(Line(dependencies: .init(stamps: stamps))), as: UTF8.self)
    }
}

/// A fresh folder under the system's temporary directory, removed with its contents when released.
private final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "feisty-route-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
