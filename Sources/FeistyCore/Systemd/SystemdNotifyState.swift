/// When feisty tells systemd what (`sd_notify`): fed what happens to the run, it returns the notifications to send.
///
/// `READY=1` once, when the public address serves the first ready instance; `STATUS=` when the number of serving
/// instances changes or an instance fails (crash, hang, memory, slowness, a refused deploy); `RELOADING=1` when a
/// reload (SIGHUP, the admin's reload) starts and `READY=1` once it applied the configuration and started the deploy
/// (whose swap then shows in `STATUS=`); `STOPPING=1` on graceful shutdown, after which nothing but the
/// watchdog is said.
public struct SystemdNotifyState: Sendable {
    /// "serving APP on URL", once it serves.
    private var serving: String?
    private var instances = 0
    private var reloading = false
    private var stopping = false

    /// Creates the state of a run that has not served yet.
    public init() {}

    /// What `systemctl status` shows while all is well.
    var steadyStatus: String? {
        serving.map { "\($0), \(instances) instance\(instances == 1 ? "" : "s") ready" }
    }

    /// The public address serves (the first instance is ready and the port listens).
    public mutating func served(app: String, address: String) -> [ServiceNotification] {
        guard serving == nil, !stopping else { return [] }
        serving = "serving \(app) on http://\(address)/"
        instances = max(instances, 1)
        return [.ready(status: steadyStatus!)]
    }

    /// The proxy now routes to `count` instances.
    public mutating func published(instances count: Int) -> [ServiceNotification] {
        guard count != instances else { return [] }
        instances = count
        guard !stopping, !reloading, let status = steadyStatus else { return [] }
        return [.status(status)]
    }

    /// A reload started (`true`) or ended (`false`); `monotonicMicroseconds` is `CLOCK_MONOTONIC` now.
    public mutating func reload(inProgress: Bool, monotonicMicroseconds: UInt64) -> [ServiceNotification] {
        guard inProgress != reloading else { return [] }
        reloading = inProgress
        guard !stopping, let status = steadyStatus else { return [] }
        let reloading = "reloading the configuration, deploying the code on disk"
        return inProgress
            ? [.reloading(monotonicMicroseconds: monotonicMicroseconds, status: reloading)]
            : [.ready(status: status)]
    }

    /// Something happened to an instance: failures are worth a status line, the rest is routine.
    public mutating func recorded(_ event: LifecycleEvent) -> [ServiceNotification] {
        guard !stopping else { return [] }
        switch event.kind {
        case .crash, .hang, .memory, .slow, .backoff, .deployRefused:
            let instance = event.instance.map { " instance \($0)" } ?? ""
            return [.status("\(event.kind.rawValue)\(instance): \(event.cause)")]
        default:
            return []
        }
    }

    /// Graceful shutdown began.
    public mutating func shutdown() -> [ServiceNotification] {
        guard !stopping else { return [] }
        stopping = true
        return [.stopping]
    }
}
