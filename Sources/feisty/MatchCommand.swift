import ArgumentParser
import FeistyCore
import Foundation

/// `feisty match APP METHOD TARGET`: the verdict Werkzeug's router would give one request.
struct MatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: """
            Judge a request as the app's router would: match, redirect, not found, method not allowed or \
            WebSocket mismatch.
            """,
        discussion: """
            With --batch, reads one JSON object per line on stdin ({"id": ..., "method": ..., "path": ..., \
            "host": ..., "websocket": ...}) and writes one verdict per line in the same order, echoing "id". \
            Exit status 0 for every verdict.
            """
    )

    @OptionGroup var app: AppOptions
    @OptionGroup var routeCache: RouteCacheOptions

    @Argument(help: "The request method (GET, POST, ...).")
    var method: String?

    @Argument(help: "The request target as sent on the request line: /path?query, percent-encoded.")
    var target: String?

    @Option(help: "The Host header of the request.")
    var host = "localhost"

    @Flag(
        help: """
            Judge a WebSocket handshake (Connection: Upgrade, Upgrade: websocket): only websocket=True rules \
            match it. With --batch, the default of lines without "websocket".
            """
    )
    var websocket = false

    @Flag(help: "Print the verdict as JSON.")
    var json = false

    @Flag(help: "Judge many requests: JSON lines on stdin, one verdict per line on stdout.")
    var batch = false

    func validate() throws {
        if batch {
            guard method == nil, target == nil else { throw ValidationError("--batch reads requests from stdin") }
        } else {
            guard method != nil, target != nil else { throw ValidationError("give METHOD and TARGET (or --batch)") }
        }
    }

    func run() async throws {
        let table = try await app.routeTable(cache: routeCache.cache)
        let matcher: RouteMatcher
        do {
            matcher = try RouteMatcher(table: table)
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
        // Rules whose custom converters define their own to_python/to_url are judged by the app's interpreter.
        let python =
            table.rules.contains(where: \.runsPythonConverters)
            ? PythonMatchServer.Launch(python: app.python, app: app.app) : nil
        if batch {
            await BatchMatch(
                matcher: matcher,
                defaultHost: host,
                defaultWebSocket: websocket,
                json: json,
                python: python
            ).run()
        } else if let method, let target {
            FileHandleOutput.out(
                await SingleMatch(matcher: matcher, json: json, python: python)
                    .answer(method: method, target: target, host: host, websocket: websocket)
            )
        }
    }
}
