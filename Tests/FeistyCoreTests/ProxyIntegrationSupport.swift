import Foundation
import Logging
import NIOCore
import ServiceLifecycle

@testable import FeistyCore

/// The real app behind the proxy in the integration tests: a WSGI app on Werkzeug's threaded dev server (the
/// server `flask run` uses), on a TCP port and on a Unix socket, plus raw listeners that misbehave on purpose.
enum ProxyTestUpstream {
    static let script = #"""
        import json, os, socket, sys, tempfile, threading, time
        from werkzeug.serving import make_server

        seen = {"count": 0}

        def app(environ, start_response):
            path = environ["PATH_INFO"]
            if path != "/count":
                seen["count"] += 1
            def send(status, body, headers=()):
                body = body if isinstance(body, bytes) else body.encode()
                start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))] + list(headers))
                return [body]
            if path.startswith("/hello/"):
                return send("200 OK", "hello " + path[7:])
            if path == "/count":
                return send("200 OK", str(seen["count"]))
            if path == "/port":
                return send("200 OK", environ["REMOTE_PORT"])
            if path == "/headers":
                keys = ["HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_CONNECTION",
                        "HTTP_X_SECRET", "HTTP_FORWARDED", "HTTP_EXPECT"]
                return send("200 OK", json.dumps({k: environ.get(k) for k in keys}))
            if path == "/upload":
                stream, total = environ["wsgi.input"], 0
                length = environ.get("CONTENT_LENGTH")
                left = int(length) if length else None
                while left is None or left > 0:
                    chunk = stream.read(65536 if left is None else min(65536, left))
                    if left is not None:
                        left -= len(chunk)
                    if not chunk:
                        break
                    total += len(chunk)
                return send("200 OK", str(total))
            if path.startswith("/download/"):
                size = int(path[10:])
                start_response("200 OK", [("Content-Type", "application/octet-stream")])
                block = b"x" * 262144
                def body():
                    left = size
                    while left > 0:
                        n = min(left, len(block))
                        yield block[:n]
                        left -= n
                return body()
            if path == "/reject":
                return send("413 Request Entity Too Large", "too big", [("Connection", "close")])
            if path.startswith("/slow/"):
                time.sleep(float(path[6:]))
                return send("200 OK", "slow")
            return send("404 NOT FOUND", "app 404")

        def closer(listener):
            while True:
                conn, _ = listener.accept()
                conn.recv(65536)
                conn.close()

        def forgetful(listener):
            # Answers the first request of each connection (keep-alive), then closes without answering the next,
            # as a server whose keep-alive timeout fires just as a request arrives.
            def serve(conn):
                first = True
                while True:
                    data = conn.recv(65536)
                    if not data or not first:
                        conn.close()
                        return
                    first = False
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        def late(listener):
            # A Unix socket whose listen queue holds one connection and which accepts one every 0.2 s: a burst of
            # clients finds the queue full (connect says EAGAIN at once, where TCP would queue).
            while True:
                time.sleep(0.2)
                conn, _ = listener.accept()
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlate")
                conn.close()

        sockets = tempfile.mkdtemp(prefix="feisty-fixture-")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        unix_server = make_server("unix://" + os.path.join(sockets, "app.sock"), 0, app, threaded=True)
        threading.Thread(target=unix_server.serve_forever, daemon=True).start()
        slow_queue = socket.socket(socket.AF_UNIX)
        slow_queue.bind(os.path.join(sockets, "late.sock"))
        slow_queue.listen(0)
        threading.Thread(target=late, args=(slow_queue,), daemon=True).start()
        closing = make_server("127.0.0.1", 0, app)  # not threaded: HTTP/1.0, closes after every response
        threading.Thread(target=closing.serve_forever, daemon=True).start()
        raw = socket.socket()
        raw.bind(("127.0.0.1", 0))
        raw.listen(16)
        threading.Thread(target=closer, args=(raw,), daemon=True).start()
        flaky = socket.socket()
        flaky.bind(("127.0.0.1", 0))
        flaky.listen(16)
        threading.Thread(target=forgetful, args=(flaky,), daemon=True).start()
        print(server.server_port, raw.getsockname()[1], closing.server_port, flaky.getsockname()[1], sockets,
              flush=True)
        server.serve_forever()
        """#

    /// The route table of the fixture, as the probe would report it.
    static let table = RouteTable(rules: [
        RouteRule(rule: "/hello/<name>", endpoint: "hello"),
        RouteRule(rule: "/count", endpoint: "count"),
        RouteRule(rule: "/port", endpoint: "port"),
        RouteRule(rule: "/headers", endpoint: "headers"),
        RouteRule(rule: "/upload", methods: ["POST", "OPTIONS"], endpoint: "upload"),
        RouteRule(rule: "/download/<int:size>", endpoint: "download"),
        RouteRule(rule: "/reject", methods: ["POST", "OPTIONS"], endpoint: "reject"),
        RouteRule(rule: "/slow/<secs>", endpoint: "slow"),
    ])
}

/// A running upstream + proxy pair for one test.
struct ProxyTestBed {
    var proxyPort: Int
    var appPort: Int
    var closerPort: Int
    /// The same app on a non-threaded dev server: HTTP/1.0, a new connection per request.
    var closingAppPort: Int
    /// A raw server that answers one request per connection and closes without answering the next.
    var forgetfulPort: Int
    /// The fixture's directory of Unix sockets: `app.sock` (the app) and `late.sock` (a queue of one).
    var socketDirectory: String
    var base: String { "http://127.0.0.1:\(proxyPort)" }

    /// `127.0.0.1:port`.
    static func loopback(_ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: port) }

    /// A Unix socket of the fixture.
    func unixSocket(_ name: String) throws -> SocketAddress {
        try SocketAddress(unixDomainSocketPath: socketDirectory + "/" + name)
    }
}

/// Starts the fixture app and a `ProxyServer` (port 0) in a `ServiceGroup`, runs `body`, then shuts both down
/// (gracefully for the proxy, SIGTERM for the app).
func withProxyTestBed(
    _ tweak: (inout ProxyConfiguration) -> Void = { _ in },
    upstream: ((ProxyTestBed) throws -> SocketAddress)? = nil,
    errorPages: AppErrorPages? = nil,
    clientGuard: ClientGuard? = nil,
    metrics: FeistyMetrics? = nil,
    _ body: (ProxyTestBed, ServiceGroup) async throws -> Void
) async throws {
    let app = Process()
    app.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    app.arguments = ["python3", "-c", ProxyTestUpstream.script]
    let out = Pipe()
    app.standardOutput = out
    app.standardError = FileHandle.nullDevice
    try app.run()
    // SIGKILL: the child inherits the spawning thread's signal mask, in which NIO's and the test runner's threads
    // block SIGTERM, so `terminate()` left every fixture running. Foundation reaps it (waitUntilExit would spin a
    // run loop here).
    defer { kill(app.processIdentifier, SIGKILL) }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { throw ProxyTestFailure("the fixture app did not start") }
        line.append(chunk)
    }
    let fields = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
    let ports = fields.prefix(4).compactMap { Int($0) }
    var bed = ProxyTestBed(
        proxyPort: 0,
        appPort: ports[0],
        closerPort: ports[1],
        closingAppPort: ports[2],
        forgetfulPort: ports[3],
        socketDirectory: fields[4]
    )
    defer { try? FileManager.default.removeItem(atPath: bed.socketDirectory) }
    var configuration = ProxyConfiguration(listenHost: "127.0.0.1", listenPort: 0, accessLog: false)
    tweak(&configuration)
    let routing = RoutingPublisher(
        matcher: try RouteMatcher(table: ProxyTestUpstream.table),
        instances: [UpstreamInstance(id: 0, address: try upstream?(bed) ?? ProxyTestBed.loopback(bed.appPort))],
        errorPages: errorPages?.prebuilt()
    )
    let server = ProxyServer(configuration: configuration, routing: routing, clientGuard: clientGuard) { loop in
        metrics?.makeObservers(on: loop) ?? []
    }
    metrics?.attach(server: server)
    let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let address = try await server.listeningAddress()
        bed.proxyPort = address.port!
        do {
            try await body(bed, group)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

struct ProxyTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion without blocking a thread; stdout is returned, stderr dropped.
func runTool(_ arguments: [String], stdin: Data? = nil) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-proxy-\(UUID()).out")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    let handle = try FileHandle(forWritingTo: output)
    defer {
        try? handle.close()
        try? FileManager.default.removeItem(at: output)
    }
    process.standardOutput = handle
    process.standardError = FileHandle.nullDevice
    let input = Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
            if let stdin {
                input.fileHandleForWriting.write(stdin)
                try? input.fileHandleForWriting.close()
            }
        } catch {
            continuation.resume(throwing: error)
        }
    }
    let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    return (status, text)
}

/// curl with `-s`; returns its stdout.
func curl(_ arguments: String...) async throws -> String {
    try await runTool(["curl", "-s", "--max-time", "20"] + arguments).output
}

/// Sends raw bytes over one TCP connection (optionally in pieces with pauses) and returns everything read until
/// the server closes or `readTimeout` seconds of silence pass; the last line says `EOF` or `TIMEOUT`.
func rawExchange(port: Int, pieces: [String], pause: Double = 0, readTimeout: Double = 5) async throws -> String {
    let script = #"""
        import socket, sys, time, json
        port, pause, timeout = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
        pieces = json.loads(sys.stdin.read())
        s = socket.create_connection(("127.0.0.1", port))
        for i, piece in enumerate(pieces):
            if i and pause:
                time.sleep(pause)
            try:
                s.sendall(piece.encode("latin-1"))
            except OSError:
                break
        s.settimeout(timeout)
        data = b""
        end = "EOF"
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                end = "TIMEOUT"
                break
            except OSError:
                end = "RESET"
                break
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode("latin-1") + "\n" + end)
        """#
    let payload = try JSONEncoder().encode(pieces)
    return try await runTool(["python3", "-c", script, "\(port)", "\(pause)", "\(readTimeout)"], stdin: payload)
        .output
}

/// The test process's resident set and peak, in bytes (the proxy runs inside it).
func memoryStatus() -> (rss: Int, peak: Int) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func value(_ key: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first(where: { Int($0) != nil }) ?? "0") ?? 0) * 1024
    }
    return (value("VmRSS:"), value("VmHWM:"))
}

/// Resets the peak RSS counter (`VmHWM`) so a later peak belongs to what ran in between.
func resetPeakMemory() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}
