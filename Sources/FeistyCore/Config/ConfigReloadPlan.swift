/// What a configuration reload changes: the file's keys whose arguments differ from the running ones, split into
/// those applied live and those that need a restart (which keep their running value). A plain value, decided from
/// the arguments each key stands for (`ConfigArguments.argumentsByKey`), so it knows every flag without a list of
/// their types.
public struct ConfigReloadPlan: Sendable, Equatable {
    /// The keys a reload applies live: the guard's limits, lists and policy. Everything else (listen address,
    /// workers, server, internal transport, timeouts, state directory...) is read once at start.
    public static let liveKeys: Set<String> = [
        "rate", "burst", "allow", "deny", "priority", "max-strikes", "find-time", "ban-time", "ban-time-max",
        "strike-405", "canary-file", "dry-run", "ban-response",
    ]

    /// Changed keys applied live, sorted.
    public var applied: [String]
    /// Changed keys that need a restart, sorted.
    public var needsRestart: [String]
    /// The arguments in force after the reload: the applied keys' new ones, every other key's running ones.
    public var inForce: [String: [String]]

    /// Compares the running arguments of each key with the reloaded file's (a key missing on one side is its
    /// flag's default there).
    /// - Parameter liveKeys: The keys that can change live (none when there is nothing to apply them to, e.g.
    ///   under `--no-guard`).
    public init(running: [String: [String]], reloaded: [String: [String]], liveKeys: Set<String> = Self.liveKeys) {
        let changed = Set(running.keys).union(reloaded.keys).filter { running[$0] != reloaded[$0] }
        applied = changed.filter { liveKeys.contains($0) }.sorted()
        needsRestart = changed.filter { !liveKeys.contains($0) }.sorted()
        var inForce = running
        for key in applied { inForce[key] = reloaded[key] }
        self.inForce = inForce
    }
}
