import Foundation

/// `feisty match APP METHOD TARGET`: one verdict, from the app's interpreter when the request reaches a rule
/// whose custom converters define their own `to_python`/`to_url` (see `BatchMatch`).
public struct SingleMatch {
    let matcher: RouteMatcher
    let json: Bool
    let python: PythonMatchServer.Launch?

    /// Creates the command's work.
    /// - Parameters:
    ///   - matcher: The app's router.
    ///   - json: Print the verdict as JSON.
    ///   - python: The app's interpreter; `nil`: the regex alone decides.
    public init(matcher: RouteMatcher, json: Bool, python: PythonMatchServer.Launch?) {
        self.matcher = matcher
        self.json = json
        self.python = python
    }

    /// The line to print for one request.
    public func answer(method: String, target: String, host: String, websocket: Bool) async -> String {
        var verdict = matcher.match(method: method, target: target, host: host, websocket: websocket)
        if let python,
            case .needsPython(let ruleIndex) = matcher.matchNatively(
                method: method,
                target: target,
                host: host,
                websocket: websocket
            )
        {
            do {
                let answer = try await PythonMatchServer.run(python) { server in
                    try await server.answer(
                        method: method,
                        target: target,
                        host: host,
                        websocket: websocket,
                        ruleIndex: ruleIndex
                    )
                }
                switch answer {
                case .verdict(let judged): verdict = judged
                case .appError(let message):
                    return json ? VerdictReport.appErrorJSON(message) : VerdictReport.appErrorText(message)
                case .unparsed: break
                }
            } catch {
                FileHandle.standardError.write(
                    Data(
                        ("feisty: the app's interpreter cannot judge custom converters (\(error)): the rule is "
                            + "matched by its regex alone\n").utf8
                    )
                )
            }
        }
        return json ? VerdictReport.json(verdict) : VerdictReport.text(verdict)
    }
}
