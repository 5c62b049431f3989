import Foundation
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
    /// `--app-concurrency`: at most this many requests in the app at once, the rest wait in a priority queue for
    /// up to `queueTimeout` (`nil`: no limit).
    public var appConcurrency: Int? = nil
    /// `--threads`: event-loop threads serving client connections (each connection and its app connection stay
    /// on one). Fewer than the cores leaves CPU to the app, which shares the machine.
    public var threads: Int
    /// `--request-buffer`: a request body up to this size is received whole before the app sees the request (a
    /// slow client then never holds an app worker); a larger one streams. `0`: every body streams.
    public var requestBufferBytes: Int64
    /// `--body-timeout`: the longest wait between two reads of a request body (408 and close after it).
    public var bodyTimeout: TimeAmount
    /// `--min-body-rate`: bytes per second a request body must average over each ``bodyRateWindow`` while feisty
    /// reads it (408 and close below it); `0` turns the check off.
    public var minBodyRate: Int64
    /// The window over which ``minBodyRate`` is measured.
    public var bodyRateWindow: TimeAmount
    /// `--response-buffer`: how much of the app's answer waits in memory for a slow client per connection (the
    /// client connection's write buffer high-water mark); beyond it the answer spills to a file.
    public var responseBufferBytes: Int
    /// `--response-spill`: the most of one answer spilled to a temporary file (then the app is read no faster
    /// than the client); `0`: no spilling.
    public var responseSpillBytes: Int64
    /// Where spilled answers go: a private directory (mode 0700) is created inside it; files there are unnamed.
    public var spillParentDirectory: String
    /// `--send-timeout`: how long a client may read nothing of a pending answer before feisty closes it.
    public var sendTimeout: TimeAmount
    /// `--tunnel-idle-timeout`: how long a WebSocket tunnel may carry no byte either way before feisty closes it.
    public var tunnelIdleTimeout: TimeAmount

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
        threads: Int = System.coreCount,
        requestBufferBytes: Int64 = 1 << 20,
        bodyTimeout: TimeAmount = .seconds(30),
        minBodyRate: Int64 = 500,
        bodyRateWindow: TimeAmount = .seconds(10),
        responseBufferBytes: Int = 1 << 20,
        responseSpillBytes: Int64 = 1 << 30,
        spillParentDirectory: String = ProxyConfiguration.defaultSpillParent,
        sendTimeout: TimeAmount = .seconds(60),
        tunnelIdleTimeout: TimeAmount = .seconds(300)
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
        self.requestBufferBytes = requestBufferBytes
        self.bodyTimeout = bodyTimeout
        self.minBodyRate = minBodyRate
        self.bodyRateWindow = bodyRateWindow
        self.responseBufferBytes = responseBufferBytes
        self.responseSpillBytes = responseSpillBytes
        self.spillParentDirectory = spillParentDirectory
        self.sendTimeout = sendTimeout
        self.tunnelIdleTimeout = tunnelIdleTimeout
    }

    /// `$TMPDIR`, else `/tmp`.
    public static var defaultSpillParent: String {
        let environment = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        return environment.isEmpty ? "/tmp" : environment
    }
}
