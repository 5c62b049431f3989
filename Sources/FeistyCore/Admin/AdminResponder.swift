import Foundation

/// Answers admin requests: routing and access are decided by ``AdminRoute`` and ``AdminAccess``; this performs
/// them against the ``AdminSources`` and ``AdminControl``. No sockets here (the server does those).
public struct AdminResponder: Sendable {
    /// What is reported.
    public var sources: AdminSources
    /// What control acts on.
    public var control: AdminControl
    /// Who may control.
    public var access: AdminAccess

    /// Creates a responder.
    public init(sources: AdminSources, control: AdminControl, access: AdminAccess) {
        self.sources = sources
        self.control = control
        self.access = access
    }

    /// The answer to one request.
    public func respond(to request: AdminRequest) async -> AdminResponse {
        switch AdminRoute(method: request.method, target: request.target) {
        case .health:
            return .text(200, "ok\n")
        case .readiness:
            return sources.isReady ? .text(200, "ready\n") : .text(503, "not ready\n")
        case .status:
            let report = await StatusReportBuilder(sources: sources).report()
            let data = (try? StatusReport.encoder().encode(report)) ?? Data("{}".utf8)
            let body = [UInt8](data) + [0x0A]
            return AdminResponse(status: 200, contentType: "application/json", body: body)
        case .metrics:
            return AdminResponse(
                status: 200,
                contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: Array(await sources.metrics().utf8)
            )
        case .dashboard:
            return AdminResponse(
                status: 200,
                contentType: "text/html; charset=utf-8",
                body: Array(sources.dashboard().utf8)
            )
        case .control(let verb):
            guard access.allowsControl(authorization: request.authorization) else {
                let why =
                    access.token == nil
                    ? "control needs the Unix-socket admin listener or --admin-token"
                    : "missing or wrong bearer token"
                return .error(401, why, headers: ["WWW-Authenticate": "Bearer"])
            }
            let command: ControlCommand
            do {
                command = try ControlCommand(verb, body: request.body)
            } catch {
                return .error(400, error.description)
            }
            return await perform(command)
        case .notFound:
            return .error(404, "no such admin endpoint (/status, /metrics, /healthz, /readyz, /control/...)")
        case .methodNotAllowed(let allowed):
            return .error(405, "method not allowed", headers: ["Allow": allowed])
        }
    }

    private func perform(_ command: ControlCommand) async -> AdminResponse {
        switch command {
        case .ban(let key, let seconds, let reason):
            guard let ban = control.ban else { return .error(409, "the guard is off (--no-guard)") }
            let now = Date()
            let until = seconds.map { now.addingTimeInterval($0) }
            do {
                try await ban(Ban(key: key, since: now, until: until, reason: reason, source: .manual))
            } catch {
                return .error(500, "could not record the ban: \(error)")
            }
            var answer: [String: any Sendable] = ["ok": true, "client": key.description]
            answer["until"] = until.map { $0.formatted(.iso8601) } ?? NSNull()
            return .json(200, answer)
        case .unban(let key):
            guard let unban = control.unban else { return .error(409, "the guard is off (--no-guard)") }
            do {
                guard try await unban(key) else { return .error(404, "no ban on \(key)") }
            } catch {
                return .error(500, "could not lift the ban: \(error)")
            }
            return .json(200, ["ok": true, "client": key.description])
        case .recycle(let id):
            guard let recycle = control.recycle else {
                return .error(409, "feisty does not run the app (--upstream): nothing to recycle")
            }
            guard recycle(id) else { return .error(404, "no ready instance \(id) (see /status)") }
            return .json(200, ["ok": true, "instance": id])
        case .reload:
            guard let reload = control.reload else {
                return .error(409, "feisty does not run the app (--upstream): nothing to reload")
            }
            reload()
            return .json(200, ["ok": true])
        }
    }
}
