/// One running, ready instance of the app: what the proxy needs to route to it.
public struct AppInstance: Sendable, Hashable {
    /// The launcher's process ID, which is also the process group of the app and everything it spawned.
    public var processID: Int32
    /// 1 for the first instance, incremented on every restart.
    public var generation: Int
    /// Where the app listens (the proxy's upstream): a Unix socket in feisty's private directory, or a loopback port.
    public var internalAddress: AppAddress
    /// The app's routes, as its live `url_map` declared them.
    public var routeTable: RouteTable
    /// The address the app asked for (`app.run(host=..., port=...)`): where feisty's public listener binds.
    public var requestedAddress: ListenAddress?
    /// The app's own 404 and 405 pages, as the launcher rendered them (`nil`: unknown, feisty's own text).
    public var errorPages: AppErrorPages?

    /// Creates an instance description.
    /// - Parameters:
    ///   - processID: The launcher's PID (and process group ID).
    ///   - generation: The instance number, from 1.
    ///   - internalAddress: Where the app listens.
    ///   - routeTable: The app's routes.
    ///   - requestedAddress: Where the app asked to listen.
    ///   - errorPages: The app's own error pages.
    public init(
        processID: Int32,
        generation: Int,
        internalAddress: AppAddress,
        routeTable: RouteTable,
        requestedAddress: ListenAddress?,
        errorPages: AppErrorPages? = nil
    ) {
        self.processID = processID
        self.generation = generation
        self.internalAddress = internalAddress
        self.routeTable = routeTable
        self.requestedAddress = requestedAddress
        self.errorPages = errorPages
    }
}

/// What the supervisor tells the run command about the upstream, in order.
public enum AppSupervisorEvent: Sendable, Hashable {
    /// A new instance is ready: route to it (it replaces any previous one).
    case ready(AppInstance)
    /// No instance can serve right now (the app crashed and is being restarted, or it is stopping):
    /// the proxy answers 503.
    case unavailable(reason: String)
}
