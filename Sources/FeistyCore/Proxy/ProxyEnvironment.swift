import NIOCore

/// What every connection of one proxy shares, immutable: the configuration and the policies built from it.
final class ProxyEnvironment: Sendable {
    let configuration: ProxyConfiguration
    let admission: RequestAdmission
    let identity: ClientIdentity
    let rewriter = HeaderRewriter()
    let timeouts: ProxyConnectionStateMachine.Timeouts
    let tickInterval: TimeAmount
    /// How many requests may wait for a ready instance on one event loop (then 503 at once).
    let queueLimitPerLoop: Int
    /// The private directory of spilled answers (`nil`: no spilling).
    let spillDirectory: String?
    /// Strikes, bans and per-client limits (`nil`: none, as with `--upstream` tests that build a bare proxy).
    let clientGuard: ClientGuard?
    /// `--app-concurrency` (`nil`: no limit, and no lock per request).
    let appAdmission: AppAdmission?

    init(configuration: ProxyConfiguration, spillDirectory: String? = nil, clientGuard: ClientGuard? = nil) {
        self.configuration = configuration
        self.clientGuard = clientGuard
        self.appAdmission = configuration.appConcurrency.map {
            AppAdmission(concurrency: $0, maxWaiting: configuration.queueLimit)
        }
        self.spillDirectory = spillDirectory
        self.admission = RequestAdmission(
            maxHeaderBytes: configuration.maxHeaderBytes,
            maxBodyBytes: configuration.maxBodyBytes,
            forwardUnknown: configuration.forwardUnknown
        )
        self.identity = ClientIdentity(trustedProxies: configuration.trustedProxies)
        self.timeouts = .init(
            header: configuration.headerTimeout,
            idle: configuration.idleTimeout,
            upstream: configuration.upstreamTimeout,
            connect: configuration.connectTimeout,
            queue: configuration.queueTimeout,
            body: configuration.bodyTimeout,
            minBodyRate: configuration.minBodyRate,
            bodyRateWindow: configuration.bodyRateWindow,
            send: configuration.sendTimeout
        )
        // Deadlines are checked by one repeating tick per connection; a quarter of the shortest timeout keeps
        // the error small without waking idle connections often.
        let shortest = min(
            configuration.headerTimeout,
            configuration.idleTimeout,
            configuration.upstreamTimeout,
            configuration.queueTimeout,
            configuration.bodyTimeout,
            configuration.sendTimeout
        )
        self.tickInterval = max(.milliseconds(25), min(.seconds(1), .nanoseconds(shortest.nanoseconds / 4)))
        self.queueLimitPerLoop = max(1, configuration.queueLimit / max(1, configuration.threads))
    }
}
