import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import FeistyCore

/// The proxy on a real socket (port 0) in front of a real Werkzeug server, driven by curl and raw sockets.
@Suite(.serialized) struct ProxyIntegrationTests {
    @Test func forwardsAndReusesTheAppConnection() async throws {
        try await withProxyTestBed { bed, _ in
            #expect(try await curl("\(bed.base)/hello/world") == "hello world")
            // Two requests on one client connection: the same app connection (threaded Werkzeug keeps alive).
            let ports = try await curl("\(bed.base)/port", "-o", "-", "\(bed.base)/port")
            #expect(ports.count >= 2 && ports.prefix(ports.count / 2) == ports.suffix(ports.count / 2))
        }
    }

    @Test func proxiesToAUnixSocket() async throws {
        try await withProxyTestBed(upstream: { try $0.unixSocket("app.sock") }) { bed, _ in
            #expect(try await curl("\(bed.base)/hello/unix") == "hello unix")
            let upload = try await runTool(
                ["curl", "-s", "--max-time", "20", "--data-binary", "@-", "\(bed.base)/upload"],
                stdin: Data(repeating: 0x61, count: 3 << 20)
            )
            #expect(upload.output == "\(3 << 20)")
            #expect(try await curl("\(bed.base)/nowhere", "-w", "%{http_code}").hasSuffix("404"))
        }
    }

    @Test func aFullListenQueueIsRetriedNot502() async throws {
        // `late.sock` holds one queued connection and accepts one every 0.2 s: of 4 concurrent requests, most find
        // the queue full at first. Each is retried until accepted; none becomes a 502.
        try await withProxyTestBed(upstream: { try $0.unixSocket("late.sock") }) { bed, _ in
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<4 { group.addTask { try await curl("\(bed.base)/count", "-w", "|%{http_code}") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(codes == Array(repeating: "late|200", count: 4))
        }
    }

    @Test func reconnectsAfterTheAppClosesItsConnection() async throws {
        try await withProxyTestBed(upstream: { try ProxyTestBed.loopback($0.closingAppPort) }) { bed, _ in
            let out = try await curl(
                "\(bed.base)/port",
                "-o",
                "-",
                "\(bed.base)/port",
                "-o",
                "-",
                "\(bed.base)/hello/again",
                "-w",
                "|%{num_connects}"
            )
            #expect(out.hasSuffix("hello again|0"), "the client connection must survive: \(out)")
            let first = out.prefix(5)
            let second = out.dropFirst(5).prefix(5)
            #expect(first != second, "a closed app connection must not be reused: \(out)")
        }
    }

    @Test func aKeptConnectionClosedByTheAppIsRetriedForIdempotentRequestsOnly() async throws {
        // Bodies stream (no --request-buffer), so the POST goes out on the kept connection too.
        try await withProxyTestBed(
            { $0.requestBufferBytes = 0 },
            upstream: { try ProxyTestBed.loopback($0.forgetfulPort) }
        ) { bed, _ in
            // The second GET goes out on the kept app connection, which closes unanswered: retried, answered.
            let gets = try await curl("\(bed.base)/count", "-o", "-", "\(bed.base)/count", "-w", "|%{http_code}")
            #expect(gets == "fresh|200fresh|200")
            // A POST is not sent twice: 502.
            let post = try await curl(
                "\(bed.base)/count",
                "-o",
                "/dev/null",
                "--next",
                "-X",
                "POST",
                "--data",
                "x",
                "\(bed.base)/upload",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}"
            )
            #expect(post == "502")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withProxyTestBed { bed, _ in
            let request = { (name: String, last: Bool) in
                "GET /hello/\(name) HTTP/1.1\r\nHost: t\r\n\(last ? "Connection: close\r\n" : "")\r\n"
            }
            let reply = try await rawExchange(
                port: bed.proxyPort,
                pieces: [
                    request("a", false) + "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n" + request("b", false)
                        + request("c", true)
                ]
            )
            let bodies = reply.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(7) }
            #expect(bodies.count == 4 && bodies[0] == "hello a" && bodies[2] == "hello b", "\(reply)")
            #expect(bodies.last == "hello c" && reply.components(separatedBy: "HTTP/1.1 404").count == 2, "\(reply)")
            #expect(reply.hasSuffix("EOF"))
        }
    }

    @Test func chunkedBothWaysAndHead() async throws {
        try await withProxyTestBed { bed, _ in
            let body = String(repeating: "z", count: 300_000)
            let up = try await runTool(
                ["curl", "-s", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", "\(bed.base)/upload"],
                stdin: Data(body.utf8)
            )
            #expect(up.output == "300000")
            let down = try await curl(
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-w",
                "size=%{size_download}",
                "\(bed.base)/download/1000000"
            )
            #expect(down.lowercased().contains("transfer-encoding: chunked"))
            #expect(down.hasSuffix("size=1000000"))
            let head = try await curl("-I", "\(bed.base)/hello/x")
            #expect(head.hasPrefix("HTTP/1.1 200"))
            #expect(head.lowercased().contains("content-length: 7"))
        }
    }

    @Test func expectContinueIsAnsweredByFeisty() async throws {
        try await withProxyTestBed { bed, _ in
            let verbose = try await runTool(
                [
                    "curl", "-sv", "-H", "Expect: 100-continue", "--data-binary", "@-", "\(bed.base)/upload",
                    "--stderr", "-",
                ],
                stdin: Data(String(repeating: "q", count: 70_000).utf8)
            ).output
            #expect(verbose.contains("HTTP/1.1 100 Continue"))
            #expect(verbose.contains("< HTTP/1.1 200 OK") && verbose.contains("70000"))
            let headers = try await curl(
                "-H",
                "Expect: 100-continue",
                "-d",
                "x",
                "-X",
                "GET",
                "\(bed.base)/headers"
            )
            #expect(headers.contains(#""HTTP_EXPECT": null"#))
        }
    }

    @Test func earlyAnswerFromTheAppIsRelayed() async throws {
        try await withProxyTestBed { bed, _ in
            let status = try await runTool(
                [
                    "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-",
                    "\(bed.base)/reject",
                ],
                stdin: Data(count: 8 << 20)
            ).output
            #expect(status == "413")
            #expect(try await curl("\(bed.base)/hello/after") == "hello after")
        }
    }

    @Test func refusalsCarryTheAppsOwnPagesPerAcceptWithTheRefusedRoutesAllow() async throws {
        let pages = try AppErrorPagesTests.decode()
        try await withProxyTestBed(errorPages: pages) { bed, _ in
            let api = try await curl("-i", "-H", "Accept: application/json", "\(bed.base)/wp-login.php")
            #expect(api.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
            #expect(api.contains("Content-Type: application/json\r\n"))
            #expect(api.contains("Access-Control-Allow-Origin: *\r\n"))
            #expect(api.hasSuffix("\r\n\r\n{\"error\":\"not found\"}\n"))
            let browser = try await curl("-H", "Accept: text/html", "-d", "a=b", "\(bed.base)/xmlrpc.php")
            #expect(browser == "<h1>Lost?</h1>")
            let wrongMethod = try await curl("-i", "-X", "DELETE", "\(bed.base)/hello/x")
            #expect(wrongMethod.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
            let allow = wrongMethod.split(separator: "\r\n").first { $0.lowercased().hasPrefix("allow: ") }
            // The refused route's methods, joined with the app's "," separator.
            #expect(allow.map { Set($0.dropFirst(7).split(separator: ",")) } == ["GET", "HEAD", "OPTIONS"])
            #expect(wrongMethod.hasSuffix("\r\n\r\nno"))
            // Every other refusal keeps feisty's own text; declared routes still reach the app.
            #expect(try await curl("\(bed.base)/hello/after") == "hello after")
        }
    }

    @Test func gateAnswers404And405AndTheAppNeverSeesThem() async throws {
        try await withProxyTestBed { bed, _ in
            let out = try await curl("-w", "|%{http_code}", "\(bed.base)/wp-login.php")
            #expect(out == "404 Not Found\n|404")
            let post = try await curl("-w", "|%{http_code}", "-d", "a=b", "\(bed.base)/xmlrpc.php")
            #expect(post.hasSuffix("|404"))
            let wrongMethod = try await curl("-D", "-", "-o", "/dev/null", "-X", "DELETE", "\(bed.base)/hello/x")
            #expect(wrongMethod.hasPrefix("HTTP/1.1 405"))
            #expect(wrongMethod.lowercased().contains("allow: get, head, options"))
            let count = try await runTool(["curl", "-s", "http://127.0.0.1:\(bed.appPort)/count"]).output
            #expect(count == "0", "the app saw refused requests")
        }
    }

    @Test func forwardUnknownPassesRefusedRequestsOn() async throws {
        try await withProxyTestBed({ $0.forwardUnknown = true }) { bed, _ in
            let out = try await curl("-w", "|%{http_code}", "\(bed.base)/not/declared")
            #expect(out == "app 404|404")
        }
    }

    @Test func forwardedHeadersWithoutAndWithTrustedProxies() async throws {
        try await withProxyTestBed { bed, _ in
            let out = try await curl(
                "-H",
                "X-Forwarded-For: 6.6.6.6",
                "-H",
                "Connection: X-Secret",
                "-H",
                "X-Secret: s",
                "\(bed.base)/headers"
            )
            #expect(out.contains(#""HTTP_X_FORWARDED_FOR": "127.0.0.1""#), "\(out)")
            #expect(out.contains(#""HTTP_X_FORWARDED_PROTO": "http""#))
            #expect(out.contains(#""HTTP_X_FORWARDED_HOST": "127.0.0.1:\#(bed.proxyPort)""#))
            #expect(out.contains(#""HTTP_X_SECRET": null"#))
        }
        try await withProxyTestBed({ $0.trustedProxies = [try! IPNetwork(parsing: "127.0.0.0/8")] }) { bed, _ in
            let out = try await curl(
                "-H",
                "X-Forwarded-For: 203.0.113.5",
                "-H",
                "X-Forwarded-Proto: https",
                "\(bed.base)/headers"
            )
            #expect(out.contains(#""HTTP_X_FORWARDED_FOR": "203.0.113.5, 127.0.0.1""#), "\(out)")
            #expect(out.contains(#""HTTP_X_FORWARDED_PROTO": "https""#))
        }
    }

    @Test func limitsAnswer431And413() async throws {
        try await withProxyTestBed({
            $0.maxHeaderBytes = 4096
            $0.maxBodyBytes = 1 << 20
        }) { bed, _ in
            let big = String(repeating: "h", count: 8000)
            #expect(
                try await curl(
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-H",
                    "X-Big: \(big)",
                    "\(bed.base)/hello/x"
                ) == "431"
            )
            let byLength = try await runTool(
                [
                    "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-",
                    "\(bed.base)/upload",
                ],
                stdin: Data(count: 2 << 20)
            ).output
            #expect(byLength == "413")
            let chunked = try await runTool(
                [
                    "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
                    "--data-binary", "@-", "\(bed.base)/upload",
                ],
                stdin: Data(count: 3 << 20)
            ).output
            #expect(chunked == "413")
        }
    }

    @Test func malformedAndSmugglingRequestsGet400AndClose() async throws {
        try await withProxyTestBed { bed, _ in
            let garbage = try await rawExchange(port: bed.proxyPort, pieces: ["GARBAGE\r\n\r\n"])
            #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
            #expect(garbage.hasSuffix("EOF"))
            let both = try await rawExchange(
                port: bed.proxyPort,
                pieces: [
                    "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "0\r\n\r\nGET /hello/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
                ]
            )
            #expect(both.hasPrefix("HTTP/1.1 400"), "\(both)")
            #expect(!both.contains("smuggled"))
            let duplicated = try await rawExchange(
                port: bed.proxyPort,
                pieces: [
                    "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"
                ]
            )
            #expect(duplicated.hasPrefix("HTTP/1.1 400"), "\(duplicated)")
            let count = try await runTool(["curl", "-s", "http://127.0.0.1:\(bed.appPort)/count"]).output
            #expect(count == "0")
        }
    }

    @Test func slowHeadIs408AndIdleConnectionIsClosed() async throws {
        try await withProxyTestBed({
            $0.headerTimeout = .milliseconds(500)
            $0.idleTimeout = .milliseconds(700)
        }) { bed, _ in
            let slow = try await rawExchange(port: bed.proxyPort, pieces: ["GET /hello/x HTTP/1.1\r\n"])
            #expect(slow.hasPrefix("HTTP/1.1 408"), "\(slow)")
            #expect(slow.hasSuffix("EOF"))
            let idle = try await rawExchange(port: bed.proxyPort, pieces: ["GET /hello/x HTTP/1.1\r\nHost: t\r\n\r\n"])
            #expect(idle.contains("hello x"))
            #expect(idle.hasSuffix("EOF"), "idle keep-alive connection must be closed: \(idle)")
        }
    }

    @Test func silentAppIs504() async throws {
        try await withProxyTestBed({ $0.upstreamTimeout = .milliseconds(500) }) { bed, _ in
            let code = try await curl("-o", "/dev/null", "-w", "%{http_code}", "\(bed.base)/slow/3")
            #expect(code == "504")
        }
    }

    @Test func unreachableAppIs502AndMissingAppIs503() async throws {
        try await withProxyTestBed(upstream: { try ProxyTestBed.loopback($0.closerPort) }) { bed, _ in
            let code = try await curl("-o", "/dev/null", "-w", "%{http_code}", "\(bed.base)/hello/x")
            #expect(code == "502")
        }
        try await withProxyTestBed(upstream: { _ in try ProxyTestBed.loopback(1) }) { bed, _ in
            let code = try await curl("-o", "/dev/null", "-w", "%{http_code}", "\(bed.base)/hello/x")
            #expect(code == "502")
        }
        try await withProxyTestBed { bed, _ in
            let routing = RoutingPublisher(matcher: try RouteMatcher(table: ProxyTestUpstream.table))
            let server = ProxyServer(
                configuration: ProxyConfiguration(
                    listenHost: "127.0.0.1",
                    listenPort: 0,
                    accessLog: false,
                    queueTimeout: .milliseconds(300)
                ),
                routing: routing
            )
            let group = ServiceGroup(services: [server], logger: .init(label: "t"))
            async let running: Void = group.run()
            let port = try await server.listeningAddress().port!
            let out = try await curl("-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/hello/x")
            // No instance within the queue timeout: 503 with Retry-After.
            #expect(out.hasPrefix("HTTP/1.1 503"))
            #expect(out.lowercased().contains("retry-after: 1"))
            // A request that waits in the queue goes out as soon as an instance is published.
            async let waiting = curl("-m", "5", "http://127.0.0.1:\(port)/hello/queued")
            try await Task.sleep(for: .milliseconds(100))
            let instance = UpstreamInstance(
                id: 7,
                address: try SocketAddress(ipAddress: "127.0.0.1", port: bed.appPort)
            )
            routing.publish(instances: [instance])
            #expect(try await waiting == "hello queued")
            #expect(try await curl("http://127.0.0.1:\(port)/hello/back") == "hello back")
            #expect(instance.served == 2 && instance.inFlight == 0)
            await group.triggerGracefulShutdown()
            try await running
        }
    }

    @Test func gracefulShutdownFinishesTheInFlightRequest() async throws {
        try await withProxyTestBed { bed, group in
            async let slow = curl("-w", "|%{http_code}", "\(bed.base)/slow/1")
            try await Task.sleep(for: .milliseconds(400))
            await group.triggerGracefulShutdown()
            #expect(try await slow == "slow|200")
        }
    }

    @Test func largeUploadAndDownloadStreamWithFlatMemory() async throws {
        let size = 256 << 20
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-upload-\(UUID())")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        try await withProxyTestBed { bed, _ in
            let before = memoryStatus().rss
            resetPeakMemory()
            let up = try await curl("-X", "POST", "-T", file.path, "\(bed.base)/upload")
            #expect(up == "\(size)")
            let down = try await curl("-o", "/dev/null", "-w", "%{size_download}", "\(bed.base)/download/\(size)")
            #expect(down == "\(size)")
            let growth = memoryStatus().peak - before
            #expect(growth < 48 << 20, "peak RSS grew by \(growth >> 20) MiB while streaming 2 × 256 MiB")
        }
    }
}
