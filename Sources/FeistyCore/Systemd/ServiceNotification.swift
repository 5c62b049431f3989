/// One message to systemd's notification socket (`sd_notify(3)`): a datagram of `KEY=VALUE` lines.
public enum ServiceNotification: Sendable, Hashable {
    /// Startup (or a reload) finished: the service serves.
    case ready(status: String)
    /// A reload (a deploy) began; systemd wants the monotonic clock's reading with it.
    case reloading(monotonicMicroseconds: UInt64, status: String)
    /// Graceful shutdown began.
    case stopping
    /// Free text for `systemctl status`.
    case status(String)
    /// "Still alive" (`WatchdogSec=`).
    case watchdog

    /// The datagram's text.
    public var datagram: String {
        switch self {
        case .ready(let status): "READY=1\nSTATUS=\(Self.oneLine(status))"
        case .reloading(let microseconds, let status):
            "RELOADING=1\nMONOTONIC_USEC=\(microseconds)\nSTATUS=\(Self.oneLine(status))"
        case .stopping: "STOPPING=1\nSTATUS=stopping"
        case .status(let status): "STATUS=\(Self.oneLine(status))"
        case .watchdog: "WATCHDOG=1"
        }
    }

    /// A status is one line: a line break would start a new (bogus) assignment.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
