#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// Route tables extracted earlier, reused while nothing they were read from has changed, so that `feisty routes`,
/// `match` and `replay` do not import the app again on every call (the import is most of their time).
///
/// One JSON file per key in a private folder (`0700`, owned by this user; any other folder is not used). An entry
/// stands only while its key is the same (interpreter, app, working directory, probe, environment) and every
/// stamped path looks the same (see `FileStamp` and the probe's `DependencyWatch`). Every failure to read or
/// write only means a fresh extraction: the cache never makes a command fail.
public struct RouteTableCache: Sendable {
    /// The folder holding the entries.
    public var directory: String
    /// How many entries are kept; past it the oldest go.
    public var capacity: Int

    /// Creates a cache in `directory`.
    public init(directory: String, capacity: Int = 256) {
        self.directory = directory
        self.capacity = capacity
    }

    /// `$XDG_CACHE_HOME/feisty/routes`, else `~/.cache/feisty/routes`.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> RouteTableCache
    {
        // The XDG spec ignores a relative value.
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return RouteTableCache(directory: cache + "/feisty/routes")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return RouteTableCache(directory: home + "/.cache/feisty/routes")
    }

    /// The cached probe answer for `key`, if its entry is still fresh.
    public func answer(for key: RouteCacheKey) -> String? {
        guard isPrivate(create: false),
            let data = FileManager.default.contents(atPath: path(of: key)),
            let entry = try? JSONDecoder().decode(RouteCacheEntry.self, from: data),
            entry.freshness(for: key, now: FileStamp.current(path:)) == .fresh
        else { return nil }
        return entry.answer
    }

    /// Keeps `answer` for `key`, with the stamps of the probe's `dependencies` line; does nothing when the probe
    /// found the extraction uncacheable.
    public func store(_ answer: String, dependencies: String, for key: RouteCacheKey) {
        guard let report = try? JSONDecoder().decode(ProbeDependencyReport.self, from: Data(dependencies.utf8)),
            let dependencies = report.dependencies, dependencies.uncacheable == nil,
            isPrivate(create: true),
            let data = try? JSONEncoder().encode(
                RouteCacheEntry(key: key, stamps: dependencies.stamps, answer: answer)
            )
        else { return }
        let target = path(of: key)
        let temporary = target + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { return }
        if rename(temporary, target) != 0 { unlink(temporary) }
        prune()
    }

    private func path(of key: RouteCacheKey) -> String { directory + "/" + key.fileName }

    /// Whether `directory` exists (creating it when asked), is this user's and is writable by no one else: entries
    /// decide what feisty treats as a declared route, so nobody else may plant one.
    private func isPrivate(create: Bool) -> Bool {
        if create {
            try? FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        var status = stat()
        guard lstat(directory, &status) == 0 else { return false }
        return (status.st_mode & S_IFMT) == S_IFDIR && status.st_uid == geteuid() && (status.st_mode & 0o022) == 0
    }

    /// Removes the oldest entries past `capacity` (and temporary files of writers that died).
    private func prune() {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory), names.count > capacity else { return }
        let dated = names.map { name -> (String, Date) in
            let path = directory + "/" + name
            let modified = (try? manager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            return (path, modified)
        }
        for (path, _) in dated.sorted(by: { $0.1 < $1.1 }).prefix(names.count - capacity) {
            unlink(path)
        }
    }
}

/// The second line of `routes --dependencies`: `{"dependencies": {"stamps": [...], "uncacheable": null | why}}`.
struct ProbeDependencyReport: Decodable {
    struct Dependencies: Decodable {
        var stamps: [FileStamp]
        var uncacheable: String?
    }
    var dependencies: Dependencies?
}
