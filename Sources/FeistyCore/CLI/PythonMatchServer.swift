import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// The app's own interpreter judging requests for `feisty match`: the probe's `match-server` mode, which imports
/// the app as `routes` does and answers one request line with one verdict line (Werkzeug's `MapAdapter.match`
/// as the dev server would route the request).
///
/// Asked only about requests that reach a rule whose custom converters define their own `to_python`/`to_url`
/// (`RouteMatcher.matchNatively`); started once, on the first such request, and kept for the whole batch.
public final class PythonMatchServer {
    /// How to start the server: the same interpreter and APP the route table came from.
    public struct Launch: Sendable {
        /// The interpreter (`python3`, a virtualenv's `bin/python`).
        public var python: String
        /// The APP argument, as `flask --app` takes it.
        public var app: String

        /// Describes the server to start.
        public init(python: String, app: String) {
            self.python = python
            self.app = app
        }
    }

    /// What the app's interpreter answered for one request.
    public enum Answer: Sendable, Equatable {
        /// Werkzeug's verdict.
        case verdict(RouteVerdict)
        /// Matching raised something other than an HTTP exception (a converter's `to_python` failing with
        /// `ValueError`, say): the app answers 500.
        case appError(String)
        /// The dev server rejects the request line itself (the verdict feisty computed natively stands).
        case unparsed
    }

    /// Why the server gave no answer.
    public struct Failure: Error, CustomStringConvertible {
        /// One line for people.
        public var description: String
    }

    private let writer: StandardInputWriter
    private var lines: SubprocessOutputSequence.StringSequence<UTF8>.AsyncIterator

    private init(writer: StandardInputWriter, lines: SubprocessOutputSequence.StringSequence<UTF8>.AsyncIterator) {
        self.writer = writer
        self.lines = lines
    }

    /// Starts the server, waits until the app is loaded, and runs `body` with it; the server gets EOF (and
    /// exits) when `body` returns.
    /// - Throws: `Failure` when the interpreter cannot start or the app does not load; whatever `body` throws.
    public static func run<Result: Sendable>(
        _ launch: Launch,
        body: (PythonMatchServer) async throws -> Result
    ) async throws -> Result {
        let executable: Executable = launch.python.contains("/") ? .path(FilePath(launch.python)) : .name(launch.python)
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
        let outcome: ExecutionResult<Result, SequenceOutput, DiscardedOutput>
        do {
            outcome = try await Subprocess.run(
                executable,
                arguments: Arguments(["-c", EmbeddedPython.commandLine, "match-server", launch.app]),
                environment: .inherit.updating(["PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"]),
                platformOptions: options,
                input: .inputWriter,
                output: .sequence,
                error: .discarded
            ) { execution in
                let server = PythonMatchServer(
                    writer: execution.standardInputWriter,
                    lines: execution.standardOutput.strings(bufferingPolicy: .maxLineLength(64 << 20))
                        .makeAsyncIterator()
                )
                try await server.awaitReady()
                let result = try await body(server)
                try await server.writer.finish()
                return result
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as SubprocessError {
            throw Failure(description: "cannot run \(launch.python): \(error)")
        }
        return outcome.closureResult
    }

    /// Asks for the verdict of one request.
    /// - Parameters:
    ///   - method: The request method as given.
    ///   - target: The raw request target.
    ///   - host: The `Host` header.
    ///   - websocket: Whether the request is a WebSocket handshake.
    ///   - ruleIndex: The rule the native walk reached (the table index a `match` verdict carries).
    public func answer(
        method: String,
        target: String,
        host: String,
        websocket: Bool,
        ruleIndex: Int
    ) async throws(Failure) -> Answer {
        var line = "{\"method\": "
        JSONText.writeString(method, into: &line)
        line += ", \"target\": "
        JSONText.writeString(target, into: &line)
        line += ", \"host\": "
        JSONText.writeString(host, into: &line)
        line += ", \"websocket\": " + (websocket ? "true" : "false") + "}\n"
        do {
            _ = try await writer.write(Array(line.utf8))
        } catch {
            throw Failure(description: "the app's interpreter stopped reading: \(error)")
        }
        return try Self.decode(try await nextLine(), ruleIndex: ruleIndex)
    }

    private func awaitReady() async throws(Failure) {
        let line = try await nextLine()
        if let ready = try? JSONDecoder().decode(Ready.self, from: Data(line.utf8)), ready.ready == true { return }
        if let report = try? JSONDecoder().decode(ProbeErrorReport.self, from: Data(line.utf8)) {
            throw Failure(description: "\(report.error.kind): \(report.error.message)")
        }
        throw Failure(description: "the app's interpreter answered \(line.prefix(200))")
    }

    private func nextLine() async throws(Failure) -> String {
        do {
            if let line = try await lines.next(isolation: nil) { return line }
        } catch {
            throw Failure(description: "cannot read the app's interpreter: \(error)")
        }
        throw Failure(description: "the app's interpreter exited")
    }

    private struct Ready: Decodable {
        var ready: Bool?
    }

    // MARK: - Answers

    /// One answer line of the `match-server` protocol (see feisty_probe.py) as an `Answer`.
    static func decode(_ line: String, ruleIndex: Int) throws(Failure) -> Answer {
        let wire: WireAnswer
        do {
            wire = try JSONDecoder().decode(WireAnswer.self, from: Data(line.utf8))
        } catch {
            throw Failure(description: "unreadable answer from the app's interpreter: \(line.prefix(200))")
        }
        switch wire.outcome {
        case "match":
            let arguments = (wire.args ?? []).map { (name: $0.name, value: $0.value) }
            return .verdict(.match(endpoint: wire.endpoint ?? "", ruleIndex: ruleIndex, arguments: arguments))
        case "redirect": return .verdict(.redirect(location: wire.location ?? ""))
        case "not_found": return .verdict(.notFound)
        case "method_not_allowed": return .verdict(.methodNotAllowed(allowed: wire.allowed ?? []))
        case "websocket_mismatch": return .verdict(.websocketMismatch)
        case "bad_host": return .verdict(.badHost)
        case "unparsed": return .unparsed
        case "error": return .appError(wire.message ?? "")
        default: throw Failure(description: "unknown outcome from the app's interpreter: \(wire.outcome)")
        }
    }

    private struct WireAnswer: Decodable {
        var outcome: String
        var endpoint: String?
        var location: String?
        var allowed: [String]?
        var message: String?
        var args: [WireArgument]?
    }

    /// `["name", VALUE]`.
    private struct WireArgument: Decodable {
        var name: String
        var value: JSONValue

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            name = try container.decode(String.self)
            value = try container.decode(TaggedValue.self).value
        }
    }

    /// A Python value tagged with its type (`["int", "123"]`), so that big ints and floats come back exactly.
    struct TaggedValue: Decodable {
        var value: JSONValue

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            let tag = try container.decode(String.self)
            switch tag {
            case "null": value = .null
            case "bool": value = .bool(try container.decode(Bool.self))
            case "int":
                let digits = try container.decode(String.self)
                value = Int(digits).map(JSONValue.int) ?? .bigInteger(digits)
            case "float":
                let text = try container.decode(String.self)
                guard let number = Double(text) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a float: \(text)")
                }
                value = .double(number)
            case "str": value = .string(try container.decode(String.self))
            case "list": value = .array(try container.decode([TaggedValue].self).map(\.value))
            case "dict":
                var object: [String: JSONValue] = [:]
                for member in try container.decode([WireArgument].self) { object[member.name] = member.value }
                value = .object(object)
            default:
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown tag \(tag)")
            }
        }
    }
}
