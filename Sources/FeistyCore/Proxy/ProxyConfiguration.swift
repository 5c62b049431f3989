import NIOCore
import NIOPosix

/// Everything that shapes feisty's reverse proxy: where it listens, which limits it enforces and how long it waits.
///
/// Defaults are chosen for an app behind feisty on one machine: generous enough for ordinary uploads, strict
/// enough that a slow or hostile client cannot hold a connection or memory for long.
public struct ProxyConfiguration: Sendable, Hashable {
    /// The public address (`127.0.0.1`, `0.0.0.0`, `::1`); the host of `--listen`.
    public var listenHost: String
    /// The public port; `0` picks a free port (tests read it from `ProxyServer.listeningAddress()`).
    public var listenPort: Int
    /// `--forward-unknown`: forward requests the route gate refuses (the verdict is still computed and logged).
    public var forwardUnknown: Bool
    /// `--trusted-proxy`: peers whose `X-Forwarded-For`/`Forwarded` are believed.
    public var trustedProxies: [IPNetwork]
    /// `--max-body`: the largest request body forwarded (413 above it); `nil` = unlimited.
    public var maxBodyBytes: Int64?
    /// `--max-header-bytes`: the largest request head (request line plus header fields; 431 above it).
    public var maxHeaderBytes: Int
    /// `--header-timeout`: the time a client has to send a complete request head once it started one (408).
    public var headerTimeout: TimeAmount
    /// `--idle-timeout`: how long a keep-alive connection may sit between requests before feisty closes it.
    public var idleTimeout: TimeAmount
    /// `--upstream-timeout`: the longest silence from the app while a response is awaited or streaming (504).
    public var upstreamTimeout: TimeAmount
    /// The time to establish a TCP connection to the app (502 when it fails or expires).
    public var connectTimeout: TimeAmount
    /// `--grace`: how long in-flight requests may finish after a graceful shutdown starts.
    public var gracePeriod: TimeAmount
    /// Whether one access-log line is written per request (at `info`).
    public var accessLog: Bool
    /// `--queue-timeout`: how long a request waits for a ready app instance (while the app starts, restarts or is
    /// swapped) before feisty answers 503 with `Retry-After`.
    public var queueTimeout: TimeAmount
    /// How many requests may wait for a ready instance at once (503 beyond).
    public var queueLimit: Int
    /// `--threads`: event-loop threads serving client connections (each connection and its app connection stay
    /// on one). Fewer than the cores leaves CPU to the app, which shares the machine.
    public var threads: Int

    /// Creates a configuration; every default is the documented default of the matching `feisty run` flag.
    public init(
        listenHost: String = "127.0.0.1",
        listenPort: Int = 5000,
        forwardUnknown: Bool = false,
        trustedProxies: [IPNetwork] = [],
        maxBodyBytes: Int64? = 1 << 30,
        maxHeaderBytes: Int = 16 * 1024,
        headerTimeout: TimeAmount = .seconds(10),
        idleTimeout: TimeAmount = .seconds(60),
        upstreamTimeout: TimeAmount = .seconds(60),
        connectTimeout: TimeAmount = .seconds(5),
        gracePeriod: TimeAmount = .seconds(10),
        accessLog: Bool = true,
        queueTimeout: TimeAmount = .seconds(30),
        queueLimit: Int = 4096,
        threads: Int = System.coreCount
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.forwardUnknown = forwardUnknown
        self.trustedProxies = trustedProxies
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.upstreamTimeout = upstreamTimeout
        self.connectTimeout = connectTimeout
        self.gracePeriod = gracePeriod
        self.accessLog = accessLog
        self.queueTimeout = queueTimeout
        self.queueLimit = queueLimit
        self.threads = threads
    }
}
