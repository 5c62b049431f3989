/// When a crashed instance's successor starts: at once after a healthy run, then with a delay that doubles with
/// every crash of a crash loop (0.5 s up to 30 s), back to "at once" after an instance stayed up for a minute.
/// feisty never gives up silently on an app that served once: the loop goes on and every start is logged with the
/// app's last error line.
///
/// A plain value: the supervisor feeds it each crash and waits the returned delay.
public struct RestartPolicy: Sendable, Hashable {
    /// The delay after the second crash in a row.
    public var initialDelay: Duration
    /// The cap of the doubling delay.
    public var maximumDelay: Duration
    /// An instance that stayed up this long counts as healthy: its crash restarts at once.
    public var stableUptime: Duration

    private var nextDelay: Duration = .zero

    /// Creates a policy.
    /// - Parameters:
    ///   - initialDelay: The first non-zero delay, 0.5 s by default.
    ///   - maximumDelay: The cap of the doubling delay, 30 s by default.
    ///   - stableUptime: The uptime after which the backoff resets, 60 s by default.
    public init(
        initialDelay: Duration = .milliseconds(500),
        maximumDelay: Duration = .seconds(30),
        stableUptime: Duration = .seconds(60)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stableUptime = stableUptime
    }

    /// Records a crash and returns how long to wait before the next start.
    /// - Parameters:
    ///   - startedAt: When the crashed instance was started.
    ///   - exitedAt: When it exited.
    public mutating func instanceCrashed(
        startedAt: ContinuousClock.Instant,
        exitedAt: ContinuousClock.Instant
    ) -> Duration {
        // It ran well for a while: this crash is not part of a loop, start over.
        if exitedAt - startedAt >= stableUptime { nextDelay = .zero }
        let delay = nextDelay
        nextDelay = delay == .zero ? initialDelay : min(delay * 2, maximumDelay)
        return delay
    }
}
