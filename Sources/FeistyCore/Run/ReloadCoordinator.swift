import Logging
import ServiceLifecycle
import UnixSignals

/// What SIGHUP (and `feisty reload`) does, in order: the hooks' `willReload`, the configuration file read again and
/// its live settings applied (`ConfigReloader`), the app's code deployed (`AppSupervisor.reload()`), the hooks'
/// `didReload`. A configuration file that does not load is logged and changes nothing, and the code is deployed all
/// the same: a typo in the file must not hold back a fix in the code.
public final class ReloadCoordinator: Service, Sendable {
    /// Calls around a reload, for parts that must announce it (systemd's `RELOADING=1` before, `READY=1` after).
    public struct Hooks: Sendable {
        /// Before anything is reloaded.
        public var willReload: @Sendable () async -> Void
        /// After the configuration was applied and the deploy asked for (the deploy itself goes on, one instance
        /// at a time, and reports through its lifecycle events).
        public var didReload: @Sendable () async -> Void

        /// Creates hooks; see the properties.
        public init(
            willReload: @escaping @Sendable () async -> Void = {},
            didReload: @escaping @Sendable () async -> Void = {}
        ) {
            self.willReload = willReload
            self.didReload = didReload
        }

        /// No hooks.
        public static let none = Hooks()
    }

    private let configuration: ConfigReloader?
    private let deploy: @Sendable () -> Void
    private let hooks: Hooks
    private let signals: UnixSignalsSequence?
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: The file to read again (`nil`: no `--config`).
    ///   - hooks: Calls around each reload.
    ///   - signals: The SIGHUPs to reload on, trapped by the caller before any app starts (a SIGHUP's default
    ///     action kills the process); `nil`: only ``reload()`` reloads.
    ///   - logger: feisty's log.
    ///   - deploy: Starts the deploy of the code on disk.
    public init(
        configuration: ConfigReloader?,
        hooks: Hooks = .none,
        signals: UnixSignalsSequence?,
        logger: Logger,
        deploy: @escaping @Sendable () -> Void
    ) {
        self.configuration = configuration
        self.hooks = hooks
        self.signals = signals
        self.logger = logger
        self.deploy = deploy
    }

    /// One reload: hooks, configuration, deploy, hooks.
    public func reload() async {
        await hooks.willReload()
        await configuration?.reload()
        deploy()
        await hooks.didReload()
    }

    /// Reloads on every SIGHUP until graceful shutdown.
    public func run() async throws {
        guard let signals else { return }
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reloading")
            await reload()
        }
    }
}
