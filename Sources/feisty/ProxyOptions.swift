import ArgumentParser
import FeistyCore

/// The proxy's flags (`feisty run`): one place maps them onto `ProxyConfiguration` for both run modes.
struct ProxyOptions: ParsableArguments {
    @Flag(help: "Forward requests the route gate refuses too (the verdict is still logged).")
    var forwardUnknown = false

    @Option(help: "A proxy (IP or CIDR, IPv4/IPv6) whose X-Forwarded-For is trusted; repeatable.")
    var trustedProxy: [String] = []

    @Option(help: "Largest request body forwarded, e.g. 10m, 1g; 0 = unlimited (413 above it).")
    var maxBody: String = "1g"

    @Option(help: "Largest request head in bytes, e.g. 16k (431 above it).")
    var maxHeaderBytes: String = "16k"

    @Option(help: "Seconds a client may take to send a request head (408 after it).")
    var headerTimeout: String = "10"

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout: String = "60"

    @Option(help: "Seconds of silence from the app before 504.")
    var upstreamTimeout: String = "60"

    @Option(help: "Seconds in-flight requests may take to finish on SIGTERM/SIGINT (and the app to stop).")
    var grace: String = "10"

    @Option(help: "Seconds a request waits for a ready app instance (while it starts or restarts) before 503.")
    var queueTimeout: String = "30"

    func validate() throws {
        if let appConcurrency, appConcurrency < 1 { throw ValidationError("--app-concurrency must be at least 1") }
    }

    @Option(
        help: """
            At most this many requests in the app at once; the rest wait (up to --queue-timeout, then 503) in a \
            priority queue: --priority peers, then clients with a clean history, then new ones, then struck ones \
            (default: 8 per instance under --server gunicorn or waitress; no limit for Werkzeug's server).
            """
    )
    var appConcurrency: Int?

    @Option(help: "Request bodies up to this size are received whole before the app sees them; 0 = always stream.")
    var requestBuffer: String = "1m"

    @Option(help: "Seconds between two reads of a request body before 408.")
    var bodyTimeout: String = "30"

    @Option(help: "Bytes per second a request body must average over 10 s (408 below it); 0 = off.")
    var minBodyRate: String = "500"

    @Option(help: "How much of a response waits in memory for a slow client per connection, e.g. 1m.")
    var responseBuffer: String = "1m"

    @Option(help: "The most of one response spilled to a temporary file beyond that; 0 = no spilling.")
    var responseSpill: String = "1g"

    @Option(help: "Seconds a client may read nothing of a pending response before feisty closes it.")
    var sendTimeout: String = "60"

    @Option(help: "Seconds a WebSocket tunnel may stay silent both ways before feisty closes it.")
    var tunnelIdleTimeout: String = "300"

    @Flag(inversion: .prefixedNo, help: "Write one access-log line per request.")
    var accessLog = true

    @Option(help: "Event-loop threads of the proxy (default: one per core).")
    var threads: Int?

    /// The proxy configuration these flags describe, listening on `listen` (`HOST:PORT`) when given.
    /// - Throws: `ProxyError` for a value that does not parse.
    func configuration(listen: String?) throws(ProxyError) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        if let listen {
            (configuration.listenHost, configuration.listenPort) = try ProxyValueParsing.hostPort(listen)
        }
        configuration.forwardUnknown = forwardUnknown
        configuration.trustedProxies = try trustedProxy.map { (text) throws(ProxyError) in try IPNetwork(parsing: text)
        }
        configuration.maxBodyBytes = try ProxyValueParsing.size(maxBody)
        guard let headerBytes = try ProxyValueParsing.size(maxHeaderBytes), headerBytes < Int.max else {
            throw ProxyError.invalidSize(maxHeaderBytes)
        }
        configuration.maxHeaderBytes = Int(headerBytes)
        configuration.headerTimeout = try ProxyValueParsing.seconds(headerTimeout)
        configuration.idleTimeout = try ProxyValueParsing.seconds(idleTimeout)
        configuration.upstreamTimeout = try ProxyValueParsing.seconds(upstreamTimeout)
        configuration.gracePeriod = try ProxyValueParsing.seconds(grace)
        configuration.queueTimeout = try ProxyValueParsing.seconds(queueTimeout)
        configuration.appConcurrency = appConcurrency
        configuration.accessLog = accessLog
        configuration.requestBufferBytes = try ProxyValueParsing.size(requestBuffer) ?? 0
        configuration.bodyTimeout = try ProxyValueParsing.seconds(bodyTimeout)
        configuration.minBodyRate = try ProxyValueParsing.size(minBodyRate) ?? 0
        guard let responseBufferBytes = try ProxyValueParsing.size(responseBuffer), responseBufferBytes <= 1 << 30
        else { throw ProxyError.invalidSize(responseBuffer) }
        configuration.responseBufferBytes = Int(responseBufferBytes)
        configuration.responseSpillBytes = try ProxyValueParsing.size(responseSpill) ?? 0
        configuration.sendTimeout = try ProxyValueParsing.seconds(sendTimeout)
        configuration.tunnelIdleTimeout = try ProxyValueParsing.seconds(tunnelIdleTimeout)
        if let threads {
            guard threads >= 1 && threads <= 256 else { throw ProxyError.invalidThreads(threads) }
            configuration.threads = threads
        }
        return configuration
    }
}
