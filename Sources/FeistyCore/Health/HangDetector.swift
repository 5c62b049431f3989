/// Decides whether one instance is hung: a handler stuck forever, a deadlock, a stopped process.
///
/// An instance with requests in flight that sends no response byte for `timeout`, confirmed by a probe that also
/// gets no answer, is hung. A request that is merely long is not: bytes flowing, other requests completing, or an
/// answered probe (a free worker thread) all show the instance is alive. With `idleProbeInterval` set, an idle
/// instance is probed too, so a hang is found before a user's request runs into it.
///
/// A plain value, one per instance. The supervisor calls ``check(inFlight:lastProgress:now:)`` every
/// `checkInterval` (about 250 ms), starts a probe when told to, and reports its outcome with
/// ``probeFinished(answered:now:)``.
///
/// Timing. "Sign of life" is a response byte (or the dispatch of the oldest in-flight request, which the caller folds
/// into `lastProgress`) or an answered probe. With requests in flight the probe starts `probeLead` =
/// `min(probeTimeout, timeout / 2)` before the silence reaches `timeout`, so that its `probeTimeout` runs out about
/// when the silence reaches `timeout`: a hang is reported at most `max(timeout, timeout / 2 + probeTimeout) +
/// checkInterval` after the last sign of life; with the defaults (10 s, 1 s, 250 ms) that is 10.25 s, within the
/// spec's `--hang-timeout` + 1 s. An unanswered probe never makes the verdict before the silence lasted `timeout`:
/// a probe that fails early is retried at the next check. An idle instance is hung when a probe sent after
/// `idleProbeInterval` without a sign of life goes unanswered: at most
/// `idleProbeInterval + checkInterval + probeTimeout` after the last one.
public struct HangDetector: Sendable, Hashable {
    /// How long an instance with requests in flight may stay silent (`--hang-timeout`).
    public var timeout: Duration
    /// How long a probe may take to be answered; the prober enforces it.
    public var probeTimeout: Duration
    /// How long an idle instance may go without a sign of life before it is probed (`--idle-probe`); nil: never.
    public var idleProbeInterval: Duration?

    private struct Probe: Sendable, Hashable {
        var startedAt: ContinuousClock.Instant
        var idle: Bool
        /// The instance made progress after the probe started: its outcome no longer matters.
        var overtaken: Bool
    }

    private var probe: Probe?
    /// The `lastProgress` of the latest check.
    private var lastProgress: ContinuousClock.Instant?
    /// When the latest probe was answered.
    private var lastAnswer: ContinuousClock.Instant?

    /// Creates a detector.
    /// - Parameters:
    ///   - timeout: The silence with requests in flight after which a probe decides (`--hang-timeout`).
    ///   - probeTimeout: How long a probe may take, 1 s by default.
    ///   - idleProbeInterval: Probe an idle instance after this long without a sign of life; nil (the default): never.
    public init(timeout: Duration, probeTimeout: Duration = .seconds(1), idleProbeInterval: Duration? = nil) {
        self.timeout = timeout
        self.probeTimeout = probeTimeout
        self.idleProbeInterval = idleProbeInterval
    }

    /// How long before the silence reaches `timeout` a probe starts.
    public var probeLead: Duration { min(probeTimeout, timeout / 2) }

    /// Looks at the instance once.
    /// - Parameters:
    ///   - inFlight: Requests the instance holds now.
    ///   - lastProgress: The later of the last response byte (head, body or end) from the instance and the dispatch
    ///     of its oldest in-flight request.
    ///   - now: The time of the check.
    /// - Returns: Healthy, start a probe, or wait for the probe that is out.
    public mutating func check(
        inFlight: Int,
        lastProgress: ContinuousClock.Instant,
        now: ContinuousClock.Instant
    ) -> HangCheck {
        self.lastProgress = lastProgress
        if var probe {
            if lastProgress > probe.startedAt {
                // Bytes came while the probe was out: alive, whatever the probe says.
                probe.overtaken = true
                self.probe = probe
            }
            // One probe at a time, even an overtaken one, so an outcome is never taken for a later probe's.
            if !probe.overtaken { return .probing }
            return probeDue(inFlight: inFlight, now: now) ? .probing : .healthy
        }
        guard probeDue(inFlight: inFlight, now: now) else { return .healthy }
        probe = Probe(startedAt: now, idle: inFlight == 0, overtaken: false)
        return .probe
    }

    /// Takes the outcome of the probe ``check(inFlight:lastProgress:now:)`` asked for.
    ///
    /// Progress is seen through `check`: when the outcome and new progress arrive together, check first.
    /// - Parameters:
    ///   - answered: Whether the instance answered the probe (any HTTP status) within `probeTimeout`.
    ///   - now: When the probe finished.
    /// - Returns: Hung, or healthy (also when there is no probe out, or it is too early to tell).
    public mutating func probeFinished(answered: Bool, now: ContinuousClock.Instant) -> HangVerdict {
        guard let finished = probe else { return .healthy }
        probe = nil
        if answered {
            lastAnswer = max(lastAnswer ?? now, now)
            return .healthy
        }
        guard !finished.overtaken else { return .healthy }
        let silentFor = now - lastSignOfLife(default: finished.startedAt)
        // A probe that failed early (say the connection was refused at once) does not shorten the timeout: the
        // next check probes again.
        guard finished.idle || silentFor >= timeout else { return .healthy }
        return .hung(silentFor: silentFor)
    }

    private func probeDue(inFlight: Int, now: ContinuousClock.Instant) -> Bool {
        let quiet = now - lastSignOfLife(default: now)
        if inFlight > 0 {
            return quiet >= timeout - probeLead
        }
        guard let idleProbeInterval else { return false }
        return quiet >= idleProbeInterval
    }

    private func lastSignOfLife(default fallback: ContinuousClock.Instant) -> ContinuousClock.Instant {
        switch (lastProgress, lastAnswer) {
        case (let progress?, let answer?): max(progress, answer)
        case (let progress?, nil): progress
        case (nil, let answer?): answer
        case (nil, nil): fallback
        }
    }
}
