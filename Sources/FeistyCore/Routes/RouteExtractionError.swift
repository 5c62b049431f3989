/// Why a route table could not be obtained from the app. Each case reads as one clear line for the user.
public enum RouteExtractionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The Python interpreter could not be started.
    case pythonUnavailable(python: String, reason: String)
    /// Importing the app did not finish in time (an import that blocks, a server started at import time).
    case timedOut(app: String, seconds: Int)
    /// The probe reported a failure: `kind` is its category (`syntax_error`, `import_error`, `no_app`, ...).
    case appFailed(app: String, kind: String, message: String)
    /// The probe ended without a usable answer (crashed interpreter, killed, unreadable output).
    case unreadableAnswer(app: String, detail: String)

    public var description: String {
        switch self {
        case .pythonUnavailable(let python, let reason):
            "cannot start the Python interpreter '\(python)': \(reason) (choose one with --python PATH)"
        case .timedOut(let app, let seconds):
            "loading \(app) did not finish within \(seconds) s (does importing it block or start a server?"
                + " raise the limit with --timeout)"
        case .appFailed(let app, let kind, let message):
            "cannot load \(app) (\(kind.split(separator: "_").joined(separator: " "))): \(message)"
        case .unreadableAnswer(let app, let detail):
            "cannot load \(app): \(detail)"
        }
    }
}
