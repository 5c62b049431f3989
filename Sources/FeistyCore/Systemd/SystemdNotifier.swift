#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(CNIOLinux)
    // NIO's C shim re-exports the socket constants; a release (whole-module) build resolves SOCK_DGRAM and
    // SOCK_CLOEXEC to its copy, which MemberImportVisibility then wants imported by name.
    import CNIOLinux
#endif
import Foundation
import Synchronization

/// Sends feisty's `sd_notify` messages to systemd over the datagram socket `NOTIFY_SOCKET` names (a path or an
/// abstract `@name`). What to send is ``SystemdNotifyState``'s decision; this class only writes the datagrams.
///
/// Sending never blocks: the socket is non-blocking and a message systemd cannot take now is dropped (as
/// `sd_notify` does), since none of them is worth stalling the run.
public final class SystemdNotifier: Sendable {
    private let descriptor: Int32
    private let address: [UInt8]
    /// How often the watchdog wants `WATCHDOG=1` (`nil`: no watchdog).
    public let watchdogInterval: Duration?
    private let state = Mutex(SystemdNotifyState())

    /// The notifier systemd asked for, or `nil` when feisty was not started as a `Type=notify` service. Removes
    /// `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from feisty's environment (call it before anything is
    /// spawned): the app must not speak for the service.
    public static func fromEnvironment() -> SystemdNotifier? {
        let settings = SystemdNotifyEnvironment(
            environment: ProcessInfo.processInfo.environment,
            processID: getpid()
        )
        for variable in SystemdNotifyEnvironment.variables { unsetenv(variable) }
        return settings.socket.flatMap { SystemdNotifier(socket: $0, watchdogInterval: settings.watchdogInterval) }
    }

    /// Opens a datagram socket for `socket`; `nil` when the name does not fit a Unix socket address or no socket
    /// can be made.
    public init?(socket: SystemdNotifyEnvironment.SocketAddress, watchdogInterval: Duration?) {
        var bytes: [UInt8]
        switch socket {
        case .path(let path): bytes = Array(path.utf8)
        case .abstract(let name): bytes = [0] + Array(name.utf8)
        }
        guard bytes.count <= MemoryLayout.size(ofValue: Glibc.sockaddr_un().sun_path) else { return nil }
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        self.descriptor = descriptor
        self.address = bytes
        self.watchdogInterval = watchdogInterval
    }

    deinit { close(descriptor) }

    /// The public address serves: `READY=1`.
    public func served(app: String, address: String) { send(state.withLock { $0.served(app: app, address: address) }) }

    /// The proxy now routes to `count` instances.
    public func published(instances count: Int) { send(state.withLock { $0.published(instances: count) }) }

    /// A reload started or ended: `RELOADING=1`, then `READY=1`.
    public func reload(inProgress: Bool) {
        let now = Self.monotonicMicroseconds()
        send(state.withLock { $0.reload(inProgress: inProgress, monotonicMicroseconds: now) })
    }

    /// The `ReloadCoordinator`'s hooks that tell systemd of each reload, whoever asked for it (SIGHUP, which
    /// `systemctl reload` sends, or the admin's reload).
    public var reloadHooks: ReloadCoordinator.Hooks {
        ReloadCoordinator.Hooks(
            willReload: { self.reload(inProgress: true) },
            didReload: { self.reload(inProgress: false) }
        )
    }

    /// An instance's lifecycle event.
    public func recorded(_ event: LifecycleEvent) { send(state.withLock { $0.recorded(event) }) }

    /// Graceful shutdown began: `STOPPING=1`.
    public func stopping() { send(state.withLock { $0.shutdown() }) }

    /// Still alive: `WATCHDOG=1`.
    public func watchdog() { send([.watchdog]) }

    private func send(_ notifications: [ServiceNotification]) {
        for notification in notifications { send(datagram: notification.datagram) }
    }

    private func send(datagram: String) {
        var socketAddress = Glibc.sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { path in
            path.copyBytes(from: address)
        }
        let length = socklen_t(MemoryLayout.offset(of: \Glibc.sockaddr_un.sun_path)! + address.count)
        var bytes = Array(datagram.utf8)
        _ = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                sendto(descriptor, &bytes, bytes.count, Int32(MSG_NOSIGNAL), generic, length)
            }
        }
    }

    private static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
