import ArgumentParser
import FeistyCore
import Foundation

/// `feisty replay APP ACCESS_LOG`: what the strike and ban policy would have done to the traffic of a log.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Judge an access log with the app's routes and the ban policy: who would have been banned, and why.",
        discussion: """
            Reads nginx/Apache common and combined logs and the Werkzeug dev server's request lines, in time \
            order, with the log's timestamps as the clock. Lines it does not understand are counted and quoted, \
            never fatal. Nothing is refused or stored: this only reports.
            """
    )

    @OptionGroup var app: AppOptions
    @OptionGroup var routeCache: RouteCacheOptions

    @Argument(help: "The access log to read (`-` for stdin).")
    var accessLog: String

    @OptionGroup var guardOptions: GuardOptions

    @Flag(help: "Print one JSON document: clients, undeclared paths, unparsed lines.")
    var json = false

    func run() async throws {
        let text = try readLog()
        let book = try guardOptions.strikeBook()
        let table = try await app.routeTable(cache: routeCache.cache)
        let matcher: RouteMatcher
        do {
            matcher = try RouteMatcher(table: table)
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
        var replay = LogReplay(matcher: matcher, book: book, ipv6Prefix: guardOptions.ipv6Prefix)
        text.enumerateLines { line, _ in replay.feed(line) }
        let report = replay.report
        FileHandleOutput.out(json ? report.json : report.text)
    }

    private func readLog() throws -> String {
        do {
            if accessLog == "-" {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                return String(decoding: data, as: UTF8.self)
            }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: accessLog, isDirectory: &isFolder) else {
                throw GuardError.unreadableFile(path: accessLog, reason: "no such file")
            }
            guard !isFolder.boolValue else { throw GuardError.unreadableFile(path: accessLog, reason: "is a folder") }
            guard let handle = FileHandle(forReadingAtPath: accessLog) else {
                throw GuardError.unreadableFile(path: accessLog, reason: "permission denied")
            }
            defer { try? handle.close() }
            let data = try handle.readToEnd() ?? Data()
            // Logs may hold stray bytes (a scanner's binary junk): decode leniently, never fail on them.
            return String(decoding: data, as: UTF8.self)
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }
}
