import Logging
import Synchronization

/// Reads the configuration file again on a reload and applies what can change live (`ConfigReloadPlan`): the
/// guard's settings through `ClientGuard.apply(_:)`. A file that does not load (bad TOML, an unknown key, a bad
/// value) changes nothing: the error is logged with its file and line and the running settings stay.
public final class ConfigReloader: Sendable {
    /// A successfully reloaded file.
    public struct Loaded: Sendable {
        /// The arguments each of the file's keys stands for (after the command line won).
        public var argumentsByKey: [String: [String]]
        /// The guard's settings the file and command line describe (`nil` under `--no-guard`).
        public var guardConfiguration: GuardConfiguration?

        /// Creates a result; see the properties.
        public init(argumentsByKey: [String: [String]], guardConfiguration: GuardConfiguration?) {
            self.argumentsByKey = argumentsByKey
            self.guardConfiguration = guardConfiguration
        }
    }

    /// The file, for messages.
    public let file: String
    private let load: @Sendable () throws -> Loaded
    private let clientGuard: ClientGuard?
    private let running: Mutex<[String: [String]]>
    private let logger: Logger

    /// - Parameters:
    ///   - file: The file's path as given to `--config`.
    ///   - running: The arguments of each key of the file feisty started with.
    ///   - clientGuard: Where live settings go (`nil`: `--no-guard`, nothing is live).
    ///   - logger: Where the outcome is logged.
    ///   - load: Reads and checks the file (with the command line) the way a start would.
    public init(
        file: String,
        running: [String: [String]],
        clientGuard: ClientGuard?,
        logger: Logger,
        load: @escaping @Sendable () throws -> Loaded
    ) {
        self.file = file
        self.running = Mutex(running)
        self.clientGuard = clientGuard
        self.logger = logger
        self.load = load
    }

    /// Reloads the file; returns what changed (`nil`: the file did not load and nothing changed).
    @discardableResult
    public func reload() async -> ConfigReloadPlan? {
        let loaded: Loaded
        do {
            loaded = try load()
        } catch {
            logger.error("config reload: \(error); the running settings stay")
            return nil
        }
        let plan = ConfigReloadPlan(
            running: running.withLock { $0 },
            reloaded: loaded.argumentsByKey,
            liveKeys: clientGuard == nil ? [] : ConfigReloadPlan.liveKeys
        )
        for key in plan.needsRestart {
            logger.warning(
                "config reload: needs a restart: \(key) (the running value stays)",
                metadata: ["key": "\(key)"]
            )
        }
        if !plan.applied.isEmpty, let clientGuard, let configuration = loaded.guardConfiguration {
            await clientGuard.apply(configuration)
        }
        running.withLock { $0 = plan.inForce }
        let applied =
            plan.applied.isEmpty ? "no live setting changed" : "applied \(plan.applied.joined(separator: ", "))"
        logger.notice("config reload: \(file): \(applied)")
        return plan
    }
}
