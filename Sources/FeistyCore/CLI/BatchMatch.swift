import Foundation

/// `feisty match --batch`: one JSON request per input line, one verdict per output line, same order.
///
/// Lines of the usual shape are read by `BatchRequestLine` straight from the input bytes and verdicts are
/// written as UTF-8 into one output buffer, flushed every 64 KiB; unusual lines go through `JSONDecoder`.
/// Requests reaching a rule whose custom converters run their own Python (`RouteMatcher.matchNatively`) are
/// judged by the app's interpreter (`PythonMatchServer`), started on the first such line and kept to the end.
public struct BatchMatch {
    let matcher: RouteMatcher
    let defaultHost: String
    /// `--websocket`: the kind of the lines that do not say.
    let defaultWebSocket: Bool
    let json: Bool
    /// How to start the app's interpreter; `nil`: never ask it (the regex alone decides, as `match` does).
    let python: PythonMatchServer.Launch?

    /// Creates a batch run.
    /// - Parameters:
    ///   - matcher: The app's router.
    ///   - defaultHost: The `Host` of lines without `"host"`.
    ///   - defaultWebSocket: Whether lines without `"websocket"` are WebSocket handshakes.
    ///   - json: JSON verdicts instead of readable lines.
    ///   - python: The app's interpreter, for rules whose custom converters define `to_python`/`to_url`.
    public init(
        matcher: RouteMatcher,
        defaultHost: String,
        defaultWebSocket: Bool = false,
        json: Bool,
        python: PythonMatchServer.Launch? = nil
    ) {
        self.matcher = matcher
        self.defaultHost = defaultHost
        self.defaultWebSocket = defaultWebSocket
        self.json = json
        self.python = python
    }

    /// A request whose verdict the app's interpreter gives.
    struct PythonRequest {
        var id: JSONValue
        var method: String
        var target: String
        var host: String
        var websocket: Bool
        var ruleIndex: Int
    }

    /// The output line for one input line (without its newline), judged natively. A malformed line gets an
    /// `"outcome": "error"` line, so output lines stay aligned with input lines.
    public func answer(line: String) -> String {
        var out: [UInt8] = []
        var text = line
        text.withUTF8 { _ = answer(line: $0, into: &out, deferringPython: false) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `answer(line:)` through the general decoder only (what `answer` must agree with, byte for byte).
    func answerDecoding(line: String) -> String {
        var out: [UInt8] = []
        _ = answerDecoding(line: line, into: &out, deferringPython: false)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the answer to one line (no newline), or returns the request the app's interpreter must judge.
    func answer(line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], deferringPython: Bool) -> PythonRequest? {
        guard let request = BatchRequestLine.parse(line) else {
            return answerDecoding(
                line: String(decoding: line, as: UTF8.self),
                into: &out,
                deferringPython: deferringPython
            )
        }
        return judge(request, into: &out, deferringPython: deferringPython)
    }

    private func answerDecoding(line: String, into out: inout [UInt8], deferringPython: Bool) -> PythonRequest? {
        let request: BatchRequestLine
        do {
            request = try JSONDecoder().decode(BatchRequestLine.self, from: Data(line.utf8))
        } catch {
            out.append(contentsOf: Self.malformedLine)
            return nil
        }
        return judge(request, into: &out, deferringPython: deferringPython)
    }

    private func judge(_ request: BatchRequestLine, into out: inout [UInt8], deferringPython: Bool) -> PythonRequest? {
        judge(
            id: request.id ?? .null,
            method: request.method,
            target: request.path,
            host: request.host ?? defaultHost,
            websocket: request.websocket ?? defaultWebSocket,
            into: &out,
            deferringPython: deferringPython
        )
    }

    static let malformedLine = Array(
        JSONText.object([
            ("id", .null), ("outcome", .string("error")),
            ("error", .string("not a request object: {\"id\", \"method\", \"path\", \"host\", \"websocket\"}")),
        ]).utf8
    )

    private func judge(
        id: JSONValue,
        method: String,
        target: String,
        host: String,
        websocket: Bool,
        into out: inout [UInt8],
        deferringPython: Bool
    ) -> PythonRequest? {
        let verdict: RouteVerdict
        if deferringPython {
            switch matcher.matchNatively(method: method, target: target, host: host, websocket: websocket) {
            case .verdict(let native): verdict = native
            case .needsPython(let ruleIndex):
                return PythonRequest(
                    id: id,
                    method: method,
                    target: target,
                    host: host,
                    websocket: websocket,
                    ruleIndex: ruleIndex
                )
            }
        } else {
            verdict = matcher.match(method: method, target: target, host: host, websocket: websocket)
        }
        write(verdict, id: id, into: &out)
        return nil
    }

    private func write(_ verdict: RouteVerdict, id: JSONValue, into out: inout [UInt8]) {
        if json {
            VerdictReport.writeJSON(verdict, id: id, into: &out)
        } else {
            out.append(contentsOf: VerdictReport.text(verdict).utf8)
        }
    }

    /// Appends what the app's interpreter answered (or, when it cannot answer, the native verdict).
    private func write(
        _ answer: PythonMatchServer.Answer?,
        for request: PythonRequest,
        into out: inout [UInt8]
    ) {
        switch answer {
        case .verdict(let verdict)?:
            write(verdict, id: request.id, into: &out)
        case .appError(let message)?:
            if json {
                VerdictReport.writeAppError(message, id: request.id, into: &out)
            } else {
                out.append(contentsOf: VerdictReport.appErrorText(message).utf8)
            }
        case .unparsed?, nil:
            let verdict = matcher.match(
                method: request.method,
                target: request.target,
                host: request.host,
                websocket: request.websocket
            )
            write(verdict, id: request.id, into: &out)
        }
    }

    /// Reads stdin to its end, writing one answer per non-blank line.
    public func run() async {
        let input = LineInput(descriptor: 0)
        let output = BatchOutput(descriptor: 1)
        await answerLines(input, output, server: nil)
        output.flush()
    }

    /// Writes the app's interpreter's verdict on `request` as one output line.
    private func answer(_ request: PythonRequest, by server: PythonMatchServer, into output: BatchOutput) async {
        let answer = try? await server.answer(
            method: request.method,
            target: request.target,
            host: request.host,
            websocket: request.websocket,
            ruleIndex: request.ruleIndex
        )
        write(answer, for: request, into: &output.buffer)
        output.endLine()
    }

    /// The loop over the remaining lines; on the first line that needs the app's interpreter it starts the
    /// server and goes on inside `PythonMatchServer.run` (the server lives as long as that call).
    private func answerLines(_ input: LineInput, _ output: BatchOutput, server: PythonMatchServer?) async {
        let deferring = python != nil
        while true {
            let pending: PythonRequest?? = input.nextLine { line -> PythonRequest? in
                if Self.isBlank(line) { return nil }
                let pending = answer(line: line, into: &output.buffer, deferringPython: deferring)
                if pending == nil { output.endLine() }
                return pending
            }
            guard let pending else { return }
            guard let request = pending else { continue }
            if let server {
                await answer(request, by: server, into: output)
                continue
            }
            guard let python else { return }
            do {
                try await PythonMatchServer.run(python) { started in
                    await answer(request, by: started, into: output)
                    await answerLines(input, output, server: started)
                }
                return
            } catch {
                FileHandle.standardError.write(
                    Data(
                        ("feisty: the app's interpreter cannot judge custom converters (\(error)): their rules are "
                            + "matched by their regex alone\n").utf8
                    )
                )
                write(nil, for: request, into: &output.buffer)
                output.endLine()
                let fallback = BatchMatch(
                    matcher: matcher,
                    defaultHost: defaultHost,
                    defaultWebSocket: defaultWebSocket,
                    json: json,
                    python: nil
                )
                await fallback.answerLines(input, output, server: nil)
                return
            }
        }
    }

    /// Whether `readLine`'s line would be all whitespace (`Character.isWhitespace`, empty included).
    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in line {
            switch byte {
            case 0x09...0x0D, 0x20: continue
            case 0x80...: return String(decoding: line, as: UTF8.self).allSatisfy(\.isWhitespace)
            default: return false
            }
        }
        return true
    }
}

/// stdin in 64 KiB reads, handed out line by line as `readLine(strippingNewline: true)` splits them (`\n`, and
/// `\r\n` as one line end).
final class LineInput {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 17)
    }

    /// Runs `body` on the next line (valid only during the call); `nil` at the end of the input.
    func nextLine<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        var searchFrom = start
        while true {
            let newline = buffer.withUnsafeBufferPointer { bytes -> Int? in
                guard searchFrom < bytes.count,
                    let found = memchr(bytes.baseAddress! + searchFrom, 0x0A, bytes.count - searchFrom)
                else { return nil }
                return bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
            }
            if let newline {
                let lineStart = start
                start = newline + 1
                var end = newline
                if end > lineStart, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                return buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[lineStart..<end])) }
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let lineStart = start
                start = buffer.count
                return buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[lineStart...])) }
            }
            searchFrom = buffer.count - start
            refill()
            searchFrom += start
        }
    }

    /// Moves the unread rest to the front and appends one read.
    private func refill() {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let chunk = 1 << 16
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        var got = -1
        while got < 0 {
            got = buffer.withUnsafeMutableBufferPointer { read(descriptor, $0.baseAddress! + old, chunk) }
            if got < 0, errno != EINTR { got = 0 }
        }
        buffer.removeLast(chunk - got)
        if got == 0 { atEnd = true }
    }
}

/// stdout as one growing byte buffer, written out in one `write` per 64 KiB.
final class BatchOutput {
    private let descriptor: Int32
    var buffer: [UInt8] = []

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 17)
    }

    /// Ends the current line, flushing when the buffer is full.
    func endLine() {
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var written = 0
        while written < buffer.count {
            let count = buffer.withUnsafeBufferPointer {
                write(descriptor, $0.baseAddress! + written, $0.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                break  // a closed stdout: nothing left to tell
            }
            written += count
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
