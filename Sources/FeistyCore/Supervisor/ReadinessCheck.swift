/// Decides when a starting instance is ready: its launcher wrote a report that decodes, and the app answers
/// HTTP on the internal address (any status counts; the path is a declared parameterless GET route, see
/// `RouteTable.probePath`), before the startup deadline.
///
/// A plain state machine: the instance runner performs each returned ``Action`` and feeds the outcome back.
public struct ReadinessCheck: Sendable {
    /// What reading the report file gave.
    public enum ReportOutcome: Sendable, Hashable {
        /// No report yet: the app is still importing.
        case missing
        /// The report decoded.
        case decoded(LaunchReport)
        /// The report exists but does not decode (it is written atomically, so this will not heal).
        case malformed(String)
    }

    /// What the runner does next.
    public enum Action: Sendable, Hashable {
        /// Read the report file and call ``reportRead(_:now:)``.
        case readReport
        /// Send one HTTP request for `path` to this address and call ``httpProbed(answered:now:)``.
        case probeHTTP(AppAddress, path: String)
        /// Sleep, then call ``waited(now:)``.
        case wait(Duration)
        /// The instance is ready: publish it.
        case ready(LaunchReport)
        /// The instance will not become ready: stop it.
        case fail(SupervisorError)
    }

    private enum State: Sendable {
        case awaitingReport
        case awaitingHTTP(LaunchReport)
        case finished
    }

    private var state: State = .awaitingReport
    private let deadline: ContinuousClock.Instant
    private let timeout: Duration
    private let retryInterval: Duration

    /// Creates a check for an instance started at `startedAt`.
    /// - Parameters:
    ///   - startedAt: When the instance was spawned.
    ///   - timeout: The startup timeout.
    ///   - retryInterval: The polling interval.
    public init(startedAt: ContinuousClock.Instant, timeout: Duration, retryInterval: Duration) {
        self.deadline = startedAt + timeout
        self.timeout = timeout
        self.retryInterval = retryInterval
    }

    /// The first action: read the report.
    public func start() -> Action { .readReport }

    /// Feeds the outcome of reading the report.
    /// - Parameters:
    ///   - outcome: What the report file held.
    ///   - now: The current time.
    /// - Returns: The next action.
    public mutating func reportRead(_ outcome: ReportOutcome, now: ContinuousClock.Instant) -> Action {
        guard case .awaitingReport = state else { return .wait(retryInterval) }
        switch outcome {
        case .missing:
            return waitOrTimeOut(
                now: now,
                "the app did not report its routes within \(timeout.formattedSeconds) (--startup-timeout)"
            )
        case .decoded(let report):
            state = .awaitingHTTP(report)
            return .probeHTTP(report.bind, path: report.table.probePath ?? "/")
        case .malformed(let reason):
            state = .finished
            return .fail(SupervisorError(.malformedReport, "feisty's launcher wrote an unreadable report: \(reason)"))
        }
    }

    /// Feeds the outcome of one HTTP request to the app.
    /// - Parameters:
    ///   - answered: Whether an HTTP response head arrived.
    ///   - now: The current time.
    /// - Returns: The next action.
    public mutating func httpProbed(answered: Bool, now: ContinuousClock.Instant) -> Action {
        guard case .awaitingHTTP(let report) = state else { return .wait(retryInterval) }
        if answered {
            state = .finished
            return .ready(report)
        }
        return waitOrTimeOut(
            now: now,
            "the app did not answer HTTP on \(report.bind) within \(timeout.formattedSeconds) (--startup-timeout)"
        )
    }

    /// Feeds the end of a wait.
    /// - Parameter now: The current time.
    /// - Returns: The next action: retry whichever step was pending.
    public mutating func waited(now: ContinuousClock.Instant) -> Action {
        switch state {
        case .awaitingReport: .readReport
        case .awaitingHTTP(let report): .probeHTTP(report.bind, path: report.table.probePath ?? "/")
        case .finished: .wait(retryInterval)
        }
    }

    private mutating func waitOrTimeOut(now: ContinuousClock.Instant, _ message: String) -> Action {
        if now >= deadline {
            state = .finished
            return .fail(SupervisorError(.startupTimedOut, message))
        }
        return .wait(min(retryInterval, deadline - now))
    }
}
