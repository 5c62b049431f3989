/// Tells an instance that has become slow on a route from one whose app is slow everywhere.
///
/// The supervisor records each instance's response times per route (rule index) in a ``LatencyHistogram`` and, every
/// `window`, hands the window's histograms to ``windowEnded(instance:perRule:now:)``. Per rule the watch keeps a
/// baseline p95: an exponentially weighted moving average (weight 0.2 for the newest) of the p95 of normal windows,
/// seeded by the first window with at least `minimumCount` responses. A window is slow on a rule when it has at
/// least `minimumCount` responses and its p95 is above `factor` × the baseline and at least `minimumSlowdown` above
/// it (so a route that goes from 1 ms to 4 ms does not cost an instance). Slow windows never enter the baseline.
///
/// After `.slow` the supervisor swaps the instance and calls ``swapped(from:to:)``. If the new instance's next
/// window with enough responses on that rule is slow too, the verdict is `.slowAfterSwap`: the cause is elsewhere,
/// the instance stays, and the rule is not judged slow again until a normal window was seen on it, so a slow
/// database does not make feisty replace instances in a loop. While a swap for a rule is pending, slow windows of
/// other instances on that rule give no verdict either: one swap answers for all of them. A pending swap that
/// `swapped(from:to:)` never confirmed, or whose new instance never served the rule enough, is forgotten after
/// 10 windows.
public struct SlownessWatch: Sendable, Hashable {
    /// How many times the baseline p95 a window's p95 must exceed to be slow.
    public var factor: Double
    /// The length of a window; the supervisor's cadence for ``windowEnded(instance:perRule:now:)``.
    public var window: Duration
    /// The fewest responses on a rule for a window to count: fewer say nothing reliable about a p95.
    public var minimumCount: Int
    /// How far above the baseline a slow window's p95 must also be.
    public var minimumSlowdown: Duration

    private enum RuleState: Sendable, Hashable {
        case watching
        /// `.slow` was returned for `instance`; waiting for ``SlownessWatch/swapped(from:to:)``.
        case awaitingSwap(instance: Int, since: ContinuousClock.Instant)
        /// `instance` replaced a slow one; its next qualifying window decides.
        case verifying(instance: Int, since: ContinuousClock.Instant)
        /// Slow after a swap: no `.slow` until a normal window.
        case suppressed
    }

    /// The weight of the newest normal window's p95 in the baseline.
    static let baselineWeight = 0.2
    /// Pending swaps are forgotten after this many windows.
    static let pendingWindows = 10

    private var baselines: [Int: Double] = [:]
    private var states: [Int: RuleState] = [:]

    /// Creates a watch.
    /// - Parameters:
    ///   - factor: A window is slow above this multiple of the baseline p95, 3 by default.
    ///   - window: The length of a window, 30 s by default.
    ///   - minimumCount: The fewest responses on a rule for a window to be judged, 20 by default.
    ///   - minimumSlowdown: How far a slow window's p95 must also be above the baseline, 50 ms by default.
    public init(
        factor: Double = 3,
        window: Duration = .seconds(30),
        minimumCount: Int = 20,
        minimumSlowdown: Duration = .milliseconds(50)
    ) {
        self.factor = factor
        self.window = window
        self.minimumCount = minimumCount
        self.minimumSlowdown = minimumSlowdown
    }

    /// The current baseline p95 of a rule in nanoseconds, nil before its first qualifying window.
    public func baselineP95(rule: Int) -> UInt64? {
        baselines[rule].map { UInt64($0.rounded()) }
    }

    /// Judges one instance's window.
    /// - Parameters:
    ///   - instance: The instance the window belongs to.
    ///   - perRule: Its response times in the window, by rule index.
    ///   - now: When the window ended.
    /// - Returns: Normal, slow (swap the instance), or slow after a swap (keep it, report). When several rules are
    ///   slow, the one furthest above its baseline is named.
    public mutating func windowEnded(
        instance: Int,
        perRule: [Int: LatencyHistogram],
        now: ContinuousClock.Instant
    ) -> SlownessVerdict {
        forgetStalePending(now: now)
        let slowdownNanoseconds =
            Double(minimumSlowdown.components.seconds) * 1e9
            + Double(minimumSlowdown.components.attoseconds) / 1e9
        var slowRules: [Int] = []
        var worstSlow: Judged?
        var worstAfterSwap: Judged?
        for (rule, histogram) in perRule.sorted(by: { $0.key < $1.key }) {
            guard histogram.count >= minimumCount, let p95 = histogram.quantile(0.95) else { continue }
            guard let baseline = baselines[rule] else {
                baselines[rule] = Double(p95)
                continue
            }
            let recent = Double(p95)
            let judged = Judged(rule: rule, recentP95: p95, baseline: baseline, count: histogram.count)
            let isSlow = recent > factor * baseline && recent - baseline >= slowdownNanoseconds
            switch states[rule] ?? .watching {
            case .watching:
                if isSlow {
                    slowRules.append(rule)
                    worstSlow = judged.worse(than: worstSlow)
                }
            case .awaitingSwap:
                break
            case .verifying(let newInstance, _):
                if instance == newInstance {
                    if isSlow {
                        states[rule] = .suppressed
                        worstAfterSwap = judged.worse(than: worstAfterSwap)
                    } else {
                        states[rule] = .watching
                    }
                }
            case .suppressed:
                if !isSlow { states[rule] = .watching }
            }
            if !isSlow {
                baselines[rule] = baseline + Self.baselineWeight * (recent - baseline)
            }
        }
        if let worst = worstAfterSwap {
            return .slowAfterSwap(
                rule: worst.rule,
                recentP95: worst.recentP95,
                baselineP95: worst.baselineP95,
                count: worst.count
            )
        }
        if let worst = worstSlow {
            // The swap answers for every rule slow in this window.
            for rule in slowRules {
                states[rule] = .awaitingSwap(instance: instance, since: now)
            }
            return .slow(
                rule: worst.rule,
                recentP95: worst.recentP95,
                baselineP95: worst.baselineP95,
                count: worst.count
            )
        }
        return .normal
    }

    /// Records that `oldInstance` was replaced by `newInstance`, after a `.slow` verdict or for any other reason.
    ///
    /// Rules waiting for `oldInstance`'s swap, or verifying it, now verify `newInstance`; other rules are untouched.
    /// - Parameters:
    ///   - oldInstance: The instance that stopped serving.
    ///   - newInstance: The one serving in its place.
    public mutating func swapped(from oldInstance: Int, to newInstance: Int) {
        for (rule, state) in states {
            switch state {
            case .awaitingSwap(oldInstance, let since), .verifying(oldInstance, let since):
                states[rule] = .verifying(instance: newInstance, since: since)
            default:
                break
            }
        }
    }

    private mutating func forgetStalePending(now: ContinuousClock.Instant) {
        let limit = window * Self.pendingWindows
        for (rule, state) in states {
            switch state {
            case .awaitingSwap(_, let since), .verifying(_, let since):
                if now - since >= limit { states[rule] = .watching }
            case .watching, .suppressed:
                break
            }
        }
    }

    /// One rule's slow window.
    private struct Judged {
        var rule: Int
        var recentP95: UInt64
        var baseline: Double
        var count: Int

        var baselineP95: UInt64 { UInt64(baseline.rounded()) }

        /// This window, unless `other` is further above its baseline (the earlier rule wins a tie).
        func worse(than other: Judged?) -> Judged {
            guard let other else { return self }
            return Double(recentP95) / baseline > Double(other.recentP95) / other.baseline ? self : other
        }
    }
}
