import Foundation
import Logging

/// `--admin`, `--admin-token`, and what the caller plugs in: the traffic, the metrics text and the dashboard page.
public struct AdminConfiguration: Sendable {
    /// Where the listener binds.
    public var address: AdminAddress
    /// Whether the address was asked for (`--admin`): then a failed bind is an error, not a warning.
    public var explicit: Bool
    /// The bearer token allowing control over TCP (`nil`: control over a Unix socket only).
    public var token: String?
    /// The proxy's traffic (`/status`'s `traffic` and `routes`).
    public var traffic: @Sendable () async -> TrafficStatus? = { nil }
    /// `/metrics`.
    public var metrics: @Sendable () async -> String = { AdminSources.placeholderMetrics }
    /// `/`.
    public var dashboard: @Sendable () -> String = { DashboardPage.html }

    /// Creates a configuration.
    public init(address: AdminAddress, explicit: Bool, token: String?) {
        self.address = address
        self.explicit = explicit
        self.token = token
    }

    /// Reads the flags: `nil` for `--admin off`.
    /// - Throws: `AdminError` for a bad address or an unreadable/empty token file.
    public static func parse(admin: String?, token: String?, tokenFile: String?) throws(AdminError) -> Self? {
        if admin == "off" { return nil }
        let address = try admin.map { text throws(AdminError) in try AdminAddress(parsing: text) } ?? .standard
        var secret = token
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw .badToken("cannot read \(tokenFile)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let secret, secret.isEmpty { throw .badToken("the token is empty") }
        return AdminConfiguration(address: address, explicit: admin != nil, token: secret)
    }

    /// Binds the address: `nil` (with a warning) when the default address is taken.
    /// - Throws: `AdminError.cannotBind` when the address asked for with `--admin` cannot be bound.
    public func bind(logger: Logger) async throws(AdminError) -> AdminListener? {
        do {
            return try await AdminServer.bind(address, logger: logger)
        } catch {
            guard explicit else {
                logger.warning("\(error); running without the admin API")
                return nil
            }
            throw error
        }
    }

    /// The server answering on `listener` from these sources, ready to join the service group.
    public func makeServer(listener: AdminListener, sources: AdminSources, control: AdminControl) -> AdminServer {
        var sources = sources
        sources.traffic = traffic
        sources.metrics = metrics
        sources.dashboard = dashboard
        let access = AdminAccess(listenerIsUnixSocket: listener.address.isUnixSocket, token: token)
        return AdminServer(
            listener: listener,
            responder: AdminResponder(sources: sources, control: control, access: access)
        )
    }
}
