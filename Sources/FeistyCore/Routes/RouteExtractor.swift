import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Obtains an app's `RouteTable` by running feisty's embedded probe in the app's own Python interpreter.
///
/// Runtime extraction imports the app the way `flask --app` does and reads `app.url_map`; static extraction
/// (`staticOnly`) only parses the source. Either way the probe runs in its own session, so a timeout can stop
/// everything an import may have started.
public struct RouteExtractor: Sendable {
    /// The Python interpreter (`python3`, or a virtualenv's `bin/python`).
    public var python: String
    /// How long the probe may take before it is stopped.
    public var timeout: Duration
    /// Where earlier extractions are reused from and kept (`nil`: always extract).
    public var cache: RouteTableCache?
    /// How the probe runs as another account (`nil`: as feisty runs): feisty started as root with `--user` never
    /// imports the app as root.
    public var launcher: AccountLauncher?

    /// Creates an extractor.
    /// - Parameters:
    ///   - python: The interpreter to run; a bare name is looked up in `PATH`.
    ///   - timeout: The limit for importing the app.
    ///   - cache: The route cache to reuse and keep tables in; `nil` (the default) extracts every time.
    ///   - launcher: How to run the probe as another account (feisty must be root); `nil` runs it as feisty runs.
    public init(
        python: String = "python3",
        timeout: Duration = .seconds(30),
        cache: RouteTableCache? = nil,
        launcher: AccountLauncher? = nil
    ) {
        self.python = python
        self.timeout = timeout
        self.cache = cache
        self.launcher = launcher
    }

    /// Extracts the route table of `app`, or takes it from the cache while nothing it was read from has changed.
    /// - Parameters:
    ///   - app: What `flask --app` accepts: `app.py`, a folder, `module:name`, `pkg:create_app()`.
    ///   - staticOnly: Parse the source with `ast` instead of importing the app.
    /// - Returns: The table, rules in registration order.
    /// - Throws: `RouteExtractionError`.
    public func extract(app: String, staticOnly: Bool = false) async throws(RouteExtractionError) -> RouteTable {
        var arguments = ["-c", EmbeddedPython.commandLine, "routes", app]
        if staticOnly { arguments.append("--static") }
        let key = cache.map { _ in
            RouteCacheKey(
                python: python,
                app: app,
                workingDirectory: FileManager.default.currentDirectoryPath,
                staticOnly: staticOnly,
                probeSource: EmbeddedPython.commandLine,
                environment: ProcessInfo.processInfo.environment
            )
        }
        if let cache, let key, let cached = cache.answer(for: key),
            let table = try? Self.decodeTable(ProbeAnswer(exitCode: 0, stdout: cached, stderr: ""), app: app)
        {
            return table
        }
        guard let cache, let key else {
            return try Self.decodeTable(try await runProbe(arguments: arguments, app: app), app: app)
        }
        arguments.append("--dependencies")
        var answer = try await runProbe(arguments: arguments, app: app)
        // The table's line, then the dependencies' line.
        let lines = answer.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        answer.stdout = String(lines[0])
        let table = try Self.decodeTable(answer, app: app)
        if lines.count == 2 { cache.store(answer.stdout, dependencies: String(lines[1]), for: key) }
        return table
    }

    /// The probe's collected answer.
    struct ProbeAnswer: Sendable {
        var exitCode: Int32?
        var stdout: String
        var stderr: String
    }

    private func runProbe(arguments: [String], app: String) async throws(RouteExtractionError) -> ProbeAnswer {
        // As another account: feisty's `exec-as` becomes it, then execs the interpreter (which is looked up in PATH
        // as that account).
        let words = (launcher?.prefix ?? []) + [python] + arguments
        let executable: Executable = words[0].contains("/") ? .path(FilePath(words[0])) : .name(words[0])
        var options = PlatformOptions()
        // Its own session: on timeout the whole group (the app may have spawned children) is stopped.
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
        var environment: [Environment.Key: String?] = ["PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"]
        for (name, value) in launcher?.environment ?? [:] { environment[Environment.Key(stringLiteral: name)] = value }
        let limit = timeout
        let configuration = Configuration(
            executable: executable,
            arguments: Arguments(Array(words.dropFirst())),
            environment: .inherit.updating(environment),
            platformOptions: options
        )
        do {
            return try await withThrowingTaskGroup(of: ProbeAnswer?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        configuration,
                        output: .string(limit: 256 << 20),
                        error: .string(limit: 16 << 20)
                    )
                    var code: Int32? = nil
                    if case .exited(let status) = result.terminationStatus { code = status }
                    return ProbeAnswer(
                        exitCode: code,
                        stdout: result.standardOutput,
                        stderr: result.standardError
                    )
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                guard let answer = first else { throw RouteExtractionError.timedOut(app: app, seconds: limit.seconds) }
                return answer
            }
        } catch let error as RouteExtractionError {
            throw error
        } catch {
            throw .pythonUnavailable(python: python, reason: "\(error)")
        }
    }

    /// Turns the probe's output into a table, or its error report into a `RouteExtractionError`.
    static func decodeTable(_ answer: ProbeAnswer, app: String) throws(RouteExtractionError) -> RouteTable {
        let data = Data(answer.stdout.utf8)
        if answer.exitCode == 0, let table = try? JSONDecoder().decode(RouteTable.self, from: data) {
            return table
        }
        if let report = try? JSONDecoder().decode(ProbeErrorReport.self, from: data) {
            throw .appFailed(app: app, kind: report.error.kind, message: report.error.message)
        }
        let lastLine = answer.stderr.split(separator: "\n").last.map(String.init) ?? ""
        let status = answer.exitCode.map { "exit status \($0)" } ?? "killed by a signal"
        throw .unreadableAnswer(app: app, detail: lastLine.isEmpty ? "the probe ended (\(status))" : lastLine)
    }
}

/// The probe's failure document: `{"error": {"kind": ..., "message": ...}}`.
struct ProbeErrorReport: Decodable {
    struct Detail: Decodable {
        var kind: String
        var message: String
    }
    var error: Detail
}

extension Duration {
    /// Whole seconds, for messages.
    var seconds: Int { Int(components.seconds) }
}
