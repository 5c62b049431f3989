/// When a crashed app is restarted: exponential backoff that resets once an instance has stayed up,
/// and a crash-loop limit after which feisty gives up instead of restarting forever.
///
/// A plain value: the supervisor feeds it each crash and acts on the returned ``Decision``.
public struct RestartPolicy: Sendable, Hashable {
    /// What to do after a crash.
    public enum Decision: Sendable, Hashable {
        /// Start a new instance after this delay.
        case restart(after: Duration)
        /// Stop restarting: `crashes` crashes happened within `window`.
        case giveUp(crashes: Int, window: Duration)
    }

    /// The delay before the first restart.
    public var initialDelay: Duration
    /// The cap of the doubling delay.
    public var maximumDelay: Duration
    /// An instance that stayed up this long counts as healthy: the next crash restarts after `initialDelay`.
    public var stableUptime: Duration
    /// More crashes than this within `crashWindow` make the policy give up.
    public var maximumCrashes: Int
    /// The sliding window in which crashes are counted.
    public var crashWindow: Duration

    private var nextDelay: Duration
    private var recentCrashes: [ContinuousClock.Instant] = []

    /// Creates a policy.
    /// - Parameters:
    ///   - initialDelay: The first restart delay, 0.1 s by default.
    ///   - maximumDelay: The cap of the doubling delay, 10 s by default.
    ///   - stableUptime: The uptime after which the backoff resets, 30 s by default.
    ///   - maximumCrashes: Crashes tolerated within the window, 5 by default.
    ///   - crashWindow: The window crashes are counted in, 60 s by default.
    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(10),
        stableUptime: Duration = .seconds(30),
        maximumCrashes: Int = 5,
        crashWindow: Duration = .seconds(60)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stableUptime = stableUptime
        self.maximumCrashes = maximumCrashes
        self.crashWindow = crashWindow
        self.nextDelay = initialDelay
    }

    /// Records a crash and decides what follows.
    /// - Parameters:
    ///   - startedAt: When the crashed instance was started.
    ///   - exitedAt: When it exited.
    /// - Returns: Restart after a delay, or give up.
    public mutating func instanceCrashed(
        startedAt: ContinuousClock.Instant,
        exitedAt: ContinuousClock.Instant
    ) -> Decision {
        if exitedAt - startedAt >= stableUptime {
            // It ran well for a while: this crash is not part of a loop, start the backoff over.
            nextDelay = initialDelay
        }
        recentCrashes.removeAll { exitedAt - $0 >= crashWindow }
        recentCrashes.append(exitedAt)
        if recentCrashes.count > maximumCrashes {
            return .giveUp(crashes: recentCrashes.count, window: crashWindow)
        }
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, maximumDelay)
        return .restart(after: delay)
    }
}
