/// The one error type of the app supervisor: everything that keeps `feisty run` from serving the app.
///
/// Its `description` is the single line feisty prints before exiting non-zero, so it names the app's own
/// error (when the app printed one) rather than feisty's internals.
public struct SupervisorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for callers that react differently (exit codes, tests).
    public enum Code: Sendable, Hashable {
        /// The launcher or the app could not be started at all (python missing, spawn failure).
        case spawnFailed
        /// The app exited before it ever served HTTP (syntax error, import error, port problem).
        case appFailedToStart
        /// The app did not report its routes and answer HTTP within the startup timeout.
        case startupTimedOut
        /// The launcher's report file could not be decoded.
        case malformedReport
        /// The app kept crashing: the restart policy gave up.
        case crashLoop
        /// The supervisor's own scratch files could not be created.
        case environment
    }

    /// What went wrong.
    public var code: Code
    /// The one-line, user-facing explanation.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: The one-line explanation shown to the user.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The one-line explanation shown to the user.
    public var description: String { message }
}
