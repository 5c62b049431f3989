import ServiceLifecycle

/// Sends `WATCHDOG=1` every half of `WATCHDOG_USEC` until graceful shutdown: a feisty whose tasks no longer run
/// (a stuck cooperative pool) stops saying it, and systemd restarts it after `WatchdogSec=`.
///
/// It goes first in the service group, so graceful shutdown (reverse order) reaches it last: the watchdog keeps
/// being fed while requests drain and the app stops.
public struct SystemdWatchdogService: Service {
    private let notifier: SystemdNotifier
    private let interval: Duration

    /// A watchdog feeding `notifier` every `interval`.
    public init(notifier: SystemdNotifier, interval: Duration) {
        self.notifier = notifier
        self.interval = interval
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { [notifier, interval] in
                while true {
                    notifier.watchdog()
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            // Graceful shutdown reached the watchdog: feisty is about to exit.
        }
    }
}

extension SystemdWatchdogService {
    /// The watchdog systemd asked for, as the service group's list: empty when there is none.
    public static func services(for notifier: SystemdNotifier?) -> [any Service] {
        guard let notifier, let interval = notifier.watchdogInterval else { return [] }
        return [SystemdWatchdogService(notifier: notifier, interval: interval)]
    }
}
