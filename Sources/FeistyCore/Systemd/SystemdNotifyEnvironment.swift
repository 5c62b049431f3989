/// What systemd tells a `Type=notify` service through its environment: where to send notifications, and how often
/// it expects `WATCHDOG=1`.
public struct SystemdNotifyEnvironment: Sendable, Hashable {
    /// The variables read (and removed from feisty's environment, so the app never speaks for the service).
    public static let variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// Where notifications go.
    public enum SocketAddress: Sendable, Hashable {
        /// A socket file.
        case path(String)
        /// A name in Linux's abstract namespace (`@name` in `NOTIFY_SOCKET`), without the `@`.
        case abstract(String)
    }

    /// The socket (`nil`: not started by systemd, or a kind of socket feisty does not speak, such as `vsock:`).
    public var socket: SocketAddress?
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` (`nil`: no watchdog, or it is another process's).
    public var watchdogInterval: Duration?

    /// Reads the variables.
    /// - Parameters:
    ///   - environment: The process environment.
    ///   - processID: feisty's process ID (`WATCHDOG_PID`, when set, must name it).
    public init(environment: [String: String], processID: Int32) {
        switch environment["NOTIFY_SOCKET"] {
        case let value? where value.hasPrefix("/"): socket = .path(value)
        case let value? where value.hasPrefix("@") && value.count > 1: socket = .abstract(String(value.dropFirst()))
        default: socket = nil
        }
        let owner = environment["WATCHDOG_PID"].map { Int32($0) }
        if let microseconds = environment["WATCHDOG_USEC"].flatMap(UInt64.init), microseconds > 0,
            owner == nil || owner == processID
        {
            watchdogInterval = .microseconds(microseconds / 2)
        } else {
            watchdogInterval = nil
        }
    }
}
