import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

@testable import FeistyCore

/// The admin listener's decisions without sockets: routing, addresses, the access rule, control bodies, the status
/// JSON, and what the responder does (and does not do) for each control request.
@Suite struct AdminTests {
    // MARK: routing

    static let routes: [(String, String, AdminRoute)] = [
        ("GET", "/healthz", .health),
        ("HEAD", "/healthz", .health),
        ("GET", "/readyz", .readiness),
        ("GET", "/status", .status),
        ("GET", "/status?pretty=1", .status),
        ("GET", "/metrics", .metrics),
        ("GET", "/", .dashboard),
        ("GET", "/index.html", .dashboard),
        ("POST", "/status", .methodNotAllowed(allowed: "GET, HEAD")),
        ("DELETE", "/", .methodNotAllowed(allowed: "GET, HEAD")),
        ("POST", "/control/ban", .control(.ban)),
        ("POST", "/control/unban", .control(.unban)),
        ("POST", "/control/recycle", .control(.recycle)),
        ("POST", "/control/reload", .control(.reload)),
        ("GET", "/control/ban", .methodNotAllowed(allowed: "POST")),
        ("POST", "/control/explode", .notFound),
        ("POST", "/control/", .notFound),
        ("GET", "/statusx", .notFound),
        ("GET", "/../status", .notFound),
        ("GET", "", .notFound),
    ]

    @Test(arguments: routes)
    func routing(method: String, target: String, expected: AdminRoute) {
        #expect(AdminRoute(method: method, target: target) == expected)
    }

    // MARK: addresses

    static let addresses: [(String, AdminAddress?)] = [
        ("127.0.0.1:7117", .tcp(host: "127.0.0.1", port: 7117)),
        (":9000", .tcp(host: "127.0.0.1", port: 9000)),
        ("[::1]:7117", .tcp(host: "::1", port: 7117)),
        ("0.0.0.0:0", .tcp(host: "0.0.0.0", port: 0)),
        ("unix:/run/feisty.sock", .unix(path: "/run/feisty.sock")),
        ("unix:", nil),
        ("localhost", nil),
        ("127.0.0.1:70000", nil),
        ("127.0.0.1:http", nil),
    ]

    @Test(arguments: addresses)
    func addressParsing(text: String, expected: AdminAddress?) {
        #expect((try? AdminAddress(parsing: text)) == expected)
    }

    @Test func adminFlags() throws {
        #expect(try AdminConfiguration.parse(admin: "off", token: nil, tokenFile: nil) == nil)
        let standard = try #require(try AdminConfiguration.parse(admin: nil, token: nil, tokenFile: nil))
        #expect(standard.address == .standard && !standard.explicit && standard.token == nil)
        let explicit = try #require(try AdminConfiguration.parse(admin: "unix:/tmp/a.sock", token: "t", tokenFile: nil))
        #expect(explicit.explicit && explicit.token == "t")
        #expect(throws: AdminError.self) { try AdminConfiguration.parse(admin: nil, token: "", tokenFile: nil) }
        #expect(throws: AdminError.self) {
            try AdminConfiguration.parse(admin: nil, token: nil, tokenFile: "/nonexistent/token")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-token-\(UUID())").path
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try AdminConfiguration.parse(admin: nil, token: nil, tokenFile: file)?.token == "s3cret")
    }

    // MARK: binding

    @Test func aTakenDefaultAddressIsAWarningAnExplicitOneAnError() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fa-\(UInt16.random(in: 0...9999)).sock"
        ).path
        let logger = Logger(label: "test")
        let configuration = AdminConfiguration(address: .unix(path: path), explicit: true, token: nil)
        let first = try #require(try await configuration.bind(logger: logger))
        // Served (NIO traps on an accepted connection left unread): the probe of the second bind connects to it.
        let sources = AdminSources(app: "a", listener: PublicListener(), routeTable: { nil })
        let server = configuration.makeServer(listener: first, sources: sources, control: AdminControl())
        let serving = Task { try await server.run() }
        defer { unlink(path) }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The same address again: a live socket is not taken over.
        let fallback = AdminConfiguration(address: .unix(path: path), explicit: false, token: nil)
        #expect(try await fallback.bind(logger: logger) == nil)
        let explicit = AdminConfiguration(address: .unix(path: path), explicit: true, token: nil)
        await #expect(throws: AdminError.self) { try await explicit.bind(logger: logger) }
        serving.cancel()
        _ = await serving.result
        #expect(!FileManager.default.fileExists(atPath: path))  // removed when the server stops
    }

    // MARK: access

    static let access: [(String, Bool, String?, String?, Bool)] = [
        ("unix socket, no token", true, nil, nil, true),
        ("unix socket, token configured, none sent", true, "s3cret", nil, true),
        ("tcp without a configured token", false, nil, nil, false),
        ("tcp without a configured token, one sent", false, nil, "Bearer anything", false),
        ("tcp, right token", false, "s3cret", "Bearer s3cret", true),
        ("tcp, scheme in lower case", false, "s3cret", "bearer s3cret", true),
        ("tcp, no header", false, "s3cret", nil, false),
        ("tcp, wrong token", false, "s3cret", "Bearer s3creT", false),
        ("tcp, a prefix of the token", false, "s3cret", "Bearer s3cre", false),
        ("tcp, the token and more", false, "s3cret", "Bearer s3cret2", false),
        ("tcp, another scheme", false, "s3cret", "Basic s3cret", false),
        ("tcp, the bare token", false, "s3cret", "s3cret", false),
        ("tcp, empty bearer", false, "s3cret", "Bearer ", false),
        ("tcp, empty configured token counts as none", false, "", "Bearer ", false),
    ]

    @Test(arguments: access)
    func accessRule(_ name: String, unix: Bool, token: String?, authorization: String?, allowed: Bool) {
        let rule = AdminAccess(listenerIsUnixSocket: unix, token: token)
        #expect(rule.allowsControl(authorization: authorization) == allowed, "\(name)")
    }

    @Test func constantTimeComparison() {
        #expect(AdminAccess.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!AdminAccess.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!AdminAccess.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!AdminAccess.constantTimeEquals([], Array("a".utf8)))
        #expect(AdminAccess.constantTimeEquals([], []))
    }

    // MARK: control bodies

    static let bodies: [(AdminRoute.ControlVerb, String, ControlCommand?)] = [
        (
            .ban, #"{"client": "203.0.113.7"}"#,
            .ban(key("203.0.113.7"), seconds: nil, reason: ControlCommand.defaultBanReason)
        ),
        (
            .ban, #"{"client": "203.0.113.0/24", "duration": "1h", "reason": "scanner"}"#,
            .ban(key("203.0.113.0/24"), seconds: 3600, reason: "scanner")
        ),
        (.ban, #"{"client": "203.0.113.7", "duration": "soon"}"#, nil),
        (.ban, #"{"client": "not an address"}"#, nil),
        (.ban, #"{"client": 7}"#, nil),
        (.ban, "", nil),
        (.ban, "[1, 2]", nil),
        (.unban, #"{"client": "2001:db8::/64"}"#, .unban(key("2001:db8::/64"))),
        (.unban, "{}", nil),
        (.recycle, #"{"instance": 3}"#, .recycle(instance: 3)),
        (.recycle, #"{"instance": "3"}"#, nil),
        (.recycle, #"{"instance": true}"#, nil),
        (.recycle, #"{"instance": 1.5}"#, nil),
        (.reload, "", .reload),
        (.reload, "{}", .reload),
    ]

    @Test(arguments: bodies)
    func controlBodies(verb: AdminRoute.ControlVerb, body: String, expected: ControlCommand?) {
        #expect((try? ControlCommand(verb, body: Array(body.utf8))) == expected)
    }

    static func key(_ text: String) -> BanKey { try! BanKey(parsing: text) }

    // MARK: status JSON

    @Test func statusEncodesSnakeCaseAndNulls() throws {
        let report = StatusReport(
            feisty: .init(
                version: "0.1.0",
                pid: 42,
                startedAt: Date(timeIntervalSince1970: 1_700_000_000),
                uptimeSeconds: 1.5,
                rssBytes: nil,
                openConnections: 3,
                app: "app.py",
                listen: nil,
                ready: false,
                guard: false
            ),
            traffic: .init(
                TrafficStatus(
                    requests: 2,
                    inFlight: 1,
                    byVerdict: ["not_found": 1, "forwarded": 1],
                    byStatus: ["404": 1]
                )
            ),
            instances: [
                .init(id: 1, pid: nil, state: "starting", address: nil, ageSeconds: 0.5, rssBytes: nil, requests: nil)
            ],
            events: [.init(at: Date(timeIntervalSince1970: 1_700_000_000), kind: "crash", instance: nil, cause: "x")],
            guard: nil,
            routes: [.init(index: 0, rule: "/", methods: nil, endpoint: "index", requests: 0, latencyMs: nil)]
        )
        let data = try StatusReport.encoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["guard"] is NSNull)
        let feisty = try #require(object["feisty"] as? [String: Any])
        #expect(feisty["started_at"] as? String == "2023-11-14T22:13:20Z")
        #expect(feisty["rss_bytes"] is NSNull && feisty["listen"] is NSNull)
        #expect(feisty["uptime_seconds"] as? Double == 1.5 && feisty["open_connections"] as? Int == 3)
        let traffic = try #require(object["traffic"] as? [String: Any])
        #expect(traffic["latency_ms"] is NSNull && traffic["upstream_latency_ms"] is NSNull)
        #expect(traffic["in_flight"] as? Int == 1 && traffic["queue_depth"] as? Int == 0)
        #expect((traffic["by_verdict"] as? [String: Int]) == ["not_found": 1, "forwarded": 1])
        #expect((traffic["by_status"] as? [String: Int]) == ["404": 1])
        let instance = try #require((object["instances"] as? [[String: Any]])?.first)
        #expect(Set(instance.keys) == ["id", "pid", "state", "address", "age_seconds", "rss_bytes", "requests"])
        #expect(instance["pid"] is NSNull)
        let event = try #require((object["events"] as? [[String: Any]])?.first)
        #expect(event["instance"] is NSNull && event["detected_after_seconds"] is NSNull)
        let route = try #require((object["routes"] as? [[String: Any]])?.first)
        #expect(route["methods"] is NSNull && route["latency_ms"] is NSNull && route["requests"] as? Int == 0)
        // `feisty status` reads it back.
        let decoded = try StatusReport.decoder().decode(StatusReport.self, from: data)
        #expect(decoded.feisty == report.feisty && decoded.instances == report.instances)
        #expect(decoded.traffic?.byVerdict == ["not_found": 1, "forwarded": 1])
    }

    @Test func routesJoinTheirTrafficByIndex() {
        let table = RouteTable(rules: [
            RouteRule(rule: "/", methods: ["GET"], endpoint: "index"),
            RouteRule(rule: "/user/<int:id>", methods: ["GET", "POST"], endpoint: "user"),
        ])
        let latency = TrafficStatus.Percentiles(p50: 1, p99: 4)
        let traffic = TrafficStatus(routes: [.init(index: 1, requests: 7, latencyMs: latency)])
        let routes = StatusReportBuilder.routes(table, traffic: traffic)
        #expect(routes.map(\.rule) == ["/", "/user/<int:id>"])
        #expect(routes.map(\.requests) == [0, 7])
        #expect(routes[1].latencyMs == latency && routes[1].methods == ["GET", "POST"] && routes[1].endpoint == "user")
        #expect(StatusReportBuilder.routes(table, traffic: nil).map(\.requests) == [nil, nil])
        #expect(StatusReportBuilder.routes(nil, traffic: traffic).isEmpty)
    }

    // MARK: the responder

    /// Counts what control asked for.
    final class ControlLog: Sendable {
        let calls = Mutex<[String]>([])
        func note(_ call: String) { calls.withLock { $0.append(call) } }
        var all: [String] { calls.withLock { $0 } }
    }

    static func responder(unix: Bool, token: String?, log: ControlLog, supervised: Bool = true) -> AdminResponder {
        let sources = AdminSources(app: "app.py", listener: PublicListener(), routeTable: { nil })
        var control = AdminControl(
            ban: { ban in log.note("ban \(ban.key) \(ban.until == nil ? "forever" : "timed")") },
            unban: { key in
                log.note("unban \(key)")
                return key.description == "203.0.113.7"
            }
        )
        if supervised {
            control.recycle = { id in
                log.note("recycle \(id)")
                return id == 2
            }
            control.reload = { log.note("reload") }
        }
        return AdminResponder(
            sources: sources,
            control: control,
            access: AdminAccess(listenerIsUnixSocket: unix, token: token)
        )
    }

    static let controlCases: [(String, Bool, String?, AdminRequest, Int, [String])] = [
        ("tcp without token config", false, nil, post("ban", #"{"client": "203.0.113.7"}"#), 401, []),
        ("tcp, wrong token", false, "s3cret", post("ban", #"{"client": "203.0.113.7"}"#, auth: "Bearer nope"), 401, []),
        ("tcp, no token sent", false, "s3cret", post("reload", ""), 401, []),
        ("tcp, wrong token, recycle", false, "s3cret", post("recycle", #"{"instance": 2}"#, auth: "Bearer x"), 401, []),
        (
            "tcp, right token", false, "s3cret",
            post("ban", #"{"client": "203.0.113.7", "duration": "1h"}"#, auth: "Bearer s3cret"), 200,
            ["ban 203.0.113.7 timed"]
        ),
        ("unix", true, nil, post("ban", #"{"client": "203.0.113.7"}"#), 200, ["ban 203.0.113.7 forever"]),
        ("bad body changes nothing", true, nil, post("ban", #"{"client": "nope"}"#), 400, []),
        ("unban", true, nil, post("unban", #"{"client": "203.0.113.7"}"#), 200, ["unban 203.0.113.7"]),
        ("unban of no ban", true, nil, post("unban", #"{"client": "198.51.100.1"}"#), 404, ["unban 198.51.100.1"]),
        ("recycle a ready instance", true, nil, post("recycle", #"{"instance": 2}"#), 200, ["recycle 2"]),
        ("recycle an unknown instance", true, nil, post("recycle", #"{"instance": 9}"#), 404, ["recycle 9"]),
        ("reload", true, nil, post("reload", ""), 200, ["reload"]),
    ]

    static func post(_ verb: String, _ body: String, auth: String? = nil) -> AdminRequest {
        AdminRequest(method: "POST", target: "/control/\(verb)", authorization: auth, body: Array(body.utf8))
    }

    @Test(arguments: controlCases)
    func control(_ name: String, unix: Bool, token: String?, request: AdminRequest, status: Int, calls: [String]) async
    {
        let log = ControlLog()
        let response = await Self.responder(unix: unix, token: token, log: log).respond(to: request)
        #expect(response.status == status, "\(name)")
        #expect(log.all == calls, "\(name)")
        if status == 401 { #expect(response.headers["WWW-Authenticate"] == "Bearer") }
    }

    @Test func withoutSupervisorRecycleAndReloadAreConflicts() async {
        let log = ControlLog()
        let responder = Self.responder(unix: true, token: nil, log: log, supervised: false)
        #expect(await responder.respond(to: Self.post("reload", "")).status == 409)
        #expect(await responder.respond(to: Self.post("recycle", #"{"instance": 1}"#)).status == 409)
        #expect(log.all.isEmpty)
    }

    @Test func readinessNeedsTheListenerAndAReadyInstance() async {
        let listener = PublicListener()
        let pool = Mutex(PoolStatus())
        let sources = AdminSources(app: "a", listener: listener, routeTable: { nil }, pool: { pool.withLock { $0 } })
        let responder = AdminResponder(
            sources: sources,
            control: AdminControl(),
            access: AdminAccess(listenerIsUnixSocket: false, token: nil)
        )
        let readyz = AdminRequest(method: "GET", target: "/readyz")
        #expect(await responder.respond(to: readyz).status == 503)
        listener.listening(at: "127.0.0.1:5000")
        #expect(await responder.respond(to: readyz).status == 503)
        pool.withLock {
            $0 = PoolStatus(instances: [.init(id: 1, processID: 9, state: "ready", address: nil, launchedAt: Date())])
        }
        #expect(await responder.respond(to: readyz).status == 200)
        #expect(await responder.respond(to: AdminRequest(method: "GET", target: "/healthz")).status == 200)
        // --upstream: no supervisor, ready once the proxy listens.
        let upstream = AdminSources(app: "a", listener: listener, routeTable: { nil })
        #expect(upstream.isReady)
    }

    // MARK: guard state

    @Test func offendersMostStrikesFirst() {
        var book = StrikeBook()
        let a = ClientKey(client: "192.0.2.1")!
        let b = ClientKey(client: "192.0.2.2")!
        for (index, path) in ["/a", "/b"].enumerated() {
            _ = book.record(client: a, target: path, verdict: .notFound, at: .seconds(index))
        }
        _ = book.record(client: b, target: "/a", verdict: .notFound, at: .seconds(3))
        let offenders = book.offenders(limit: 10, at: .seconds(4))
        #expect(offenders.map(\.client) == [a, b] && offenders.map(\.strikes) == [2, 1])
        #expect(book.offenders(limit: 1, at: .seconds(4)).map(\.client) == [a])
    }

    @Test func statusListsTheNewestBansInForce() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-admin-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BanStore(directory: directory)
        let now = Date()
        for (index, address) in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"].enumerated() {
            let since = now.addingTimeInterval(Double(index) - 10)
            // The last one has expired: not in force, not listed.
            let until = index == 3 ? now.addingTimeInterval(-1) : nil
            _ = try store.add(
                Ban(key: try BanKey(parsing: address), since: since, until: until, reason: "r", source: .manual)
            )
        }
        let listed = try store.recentRecords(at: now, limit: 2).map(\.ban.key.description)
        #expect(listed == ["192.0.2.3", "192.0.2.2"])
    }

    // MARK: recycle through the state machine

    @Test func requestedRecycleSwapsLikeAPreventiveOne() {
        var machine = SupervisorStateMachine(configuration: .init(), restartPolicy: RestartPolicy())
        _ = machine.start()
        _ = machine.ready(1)
        let actions = machine.replace(1, cause: .requested("asked for through the admin API"))
        #expect(
            actions.first == .record(LifecycleEvent(.recycle, instance: 1, cause: "asked for through the admin API"))
        )
        #expect(actions.contains { if case .launch = $0 { true } else { false } })
    }
}
