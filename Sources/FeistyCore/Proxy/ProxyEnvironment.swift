import Logging
import NIOCore

/// What every connection of one proxy shares, immutable: the configuration, the policies built from it, the
/// routing publication point and the loggers.
final class ProxyEnvironment: Sendable {
    let configuration: ProxyConfiguration
    let routing: RoutingPublisher
    let admission: RequestAdmission
    let identity: ClientIdentity
    let rewriter = HeaderRewriter()
    let timeouts: ProxyConnectionStateMachine.Timeouts
    let tickInterval: TimeAmount
    let accessLogger: Logger?

    init(configuration: ProxyConfiguration, routing: RoutingPublisher, logger: Logger) {
        self.configuration = configuration
        self.routing = routing
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
            connect: configuration.connectTimeout
        )
        // Deadlines are checked by one repeating tick per connection; a quarter of the shortest timeout keeps
        // the error small without waking idle connections often.
        let shortest = min(configuration.headerTimeout, configuration.idleTimeout, configuration.upstreamTimeout)
        self.tickInterval = max(.milliseconds(25), min(.seconds(1), .nanoseconds(shortest.nanoseconds / 4)))
        self.accessLogger = configuration.accessLog ? logger : nil
    }
}
