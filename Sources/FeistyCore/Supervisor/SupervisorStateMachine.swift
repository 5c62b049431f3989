/// The supervisor's decisions between instances: stop, restart (after how long), or fail, given how the
/// last instance ended. A plain value, tested without processes.
struct SupervisorStateMachine: Sendable {
    /// How one instance ended.
    struct InstanceExit: Sendable, Hashable {
        /// When it was spawned.
        var startedAt: ContinuousClock.Instant
        /// When it exited.
        var exitedAt: ContinuousClock.Instant
        /// Its exit status, human-readable (`exit code 1`, `signal 9 (SIGKILL)`).
        var status: String
        /// Whether it became ready (reported routes and answered HTTP).
        var becameReady: Bool
        /// Whether feisty asked it to stop (graceful shutdown).
        var stopRequested: Bool
        /// A readiness failure (timeout, malformed report) that made feisty stop it.
        var readinessFailure: SupervisorError?
        /// The app's own last error line (stderr, or the launcher's JSON error), if any.
        var errorLine: String?
    }

    /// What the supervisor does next.
    enum Action: Sendable, Hashable {
        /// Return normally: feisty is shutting down.
        case finish
        /// Tell the proxy there is no upstream, wait, then start a new instance.
        case restart(after: Duration, reason: String)
        /// Throw: feisty exits non-zero with this message.
        case fail(SupervisorError)
    }

    private var policy: RestartPolicy
    private var hasBeenReady = false

    /// Creates the machine.
    /// - Parameter policy: The crash restart policy.
    init(policy: RestartPolicy) {
        self.policy = policy
    }

    /// Decides what follows the end of an instance.
    /// - Parameter exit: How the instance ended.
    /// - Returns: The next action.
    mutating func instanceExited(_ exit: InstanceExit) -> Action {
        if exit.stopRequested {
            return .finish
        }
        if exit.becameReady {
            hasBeenReady = true
        }
        let why = exit.readinessFailure?.message ?? "the app exited (\(exit.status))"
        if !hasBeenReady {
            // Never served once: a syntax error or a taken port will not fix itself, fail fast.
            if let failure = exit.readinessFailure {
                return .fail(failure)
            }
            let detail = exit.errorLine.map { ": \($0)" } ?? ""
            return .fail(SupervisorError(.appFailedToStart, "the app failed to start (\(exit.status))\(detail)"))
        }
        switch policy.instanceCrashed(startedAt: exit.startedAt, exitedAt: exit.exitedAt) {
        case .restart(let delay):
            return .restart(after: delay, reason: why)
        case .giveUp(let crashes, let window):
            let detail = exit.errorLine.map { "; last error: \($0)" } ?? ""
            return .fail(
                SupervisorError(
                    .crashLoop,
                    "the app crashed \(crashes) times within \(window.formattedSeconds), giving up (\(exit.status))\(detail)"
                )
            )
        }
    }
}

extension Duration {
    /// `0.1 s`, `30 s`: for log lines and error messages.
    var formattedSeconds: String {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        let text = String(Double(milliseconds) / 1000)
        return "\(text) s"
    }
}
