/// Everything besides the files it read that an extraction's result depends on: which interpreter, which app, from
/// where, which probe, in which environment. A cached table answers only the very same key.
public struct RouteCacheKey: Sendable, Hashable, Codable {
    /// The interpreter as given (`python3`, a virtualenv's path); its binary is stamped too.
    public var python: String
    /// The APP argument, as given.
    public var app: String
    /// The working directory (relative APP paths and `sys.path` depend on it).
    public var workingDirectory: String
    /// Static extraction (`--static`) or an import.
    public var staticOnly: Bool
    /// A digest of the embedded probe: a new feisty never reuses an older probe's tables.
    public var probe: String
    /// A digest of the whole environment (an app may read any variable while imported); the values themselves
    /// are never written to the cache.
    public var environment: String

    /// Creates a key; `probe` and `environment` are digested here.
    public init(
        python: String,
        app: String,
        workingDirectory: String,
        staticOnly: Bool,
        probeSource: String,
        environment: [String: String]
    ) {
        self.python = python
        self.app = app
        self.workingDirectory = workingDirectory
        self.staticOnly = staticOnly
        probe = Self.digest([probeSource])
        self.environment = Self.digest(environment.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
    }

    /// The cache entry's file name for this key (the entry repeats the whole key, so names may collide safely).
    var fileName: String {
        Self.digest([python, app, workingDirectory, staticOnly ? "static" : "import", probe, environment]) + ".json"
    }

    /// 128 bits of two FNV-1a 64 passes (different offsets) over the parts, each ended by a NUL byte; hex.
    static func digest(_ parts: [String]) -> String {
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x6c62_272e_07bb_0142
        for part in parts {
            for byte in part.utf8 {
                first = (first ^ UInt64(byte)) &* 0x100_0000_01b3
                second = (second ^ UInt64(byte)) &* 0x100_0000_01b3
            }
            first = (first ^ 0) &* 0x100_0000_01b3
            second = (second ^ 0xff) &* 0x100_0000_01b3
        }
        return hex(first) + hex(second)
    }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
