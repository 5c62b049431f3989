import Testing

@testable import FeistyCore

/// Hang detection: silence with requests in flight confirmed by an unanswered probe, and idle probing.
@Suite struct HealthHangTests {
    let t0 = ContinuousClock.now

    /// One call on the detector; times are seconds after `t0`.
    enum Step: Sendable {
        case check(at: Double, inFlight: Int, progress: Double, expect: HangCheck)
        case probe(at: Double, answered: Bool, expect: HangVerdict)
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var timeout: Duration = .seconds(10)
        var probeTimeout: Duration = .seconds(1)
        var idleProbe: Duration?
        var steps: [Step]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "a deadlock is confirmed by the unanswered probe",
            steps: [
                .check(at: 0.25, inFlight: 1, progress: 0, expect: .healthy),
                .check(at: 8.75, inFlight: 2, progress: 0, expect: .healthy),
                // The probe starts 1 s (its timeout) early, so the verdict comes when the silence reaches 10 s.
                .check(at: 9, inFlight: 2, progress: 0, expect: .probe),
                .check(at: 9.25, inFlight: 2, progress: 0, expect: .probing),
                .check(at: 9.75, inFlight: 2, progress: 0, expect: .probing),
                .probe(at: 10, answered: false, expect: .hung(silentFor: .seconds(10))),
            ]
        ),
        Scenario(
            name: "bytes flowing on a long request are not a hang",
            steps: [
                .check(at: 5, inFlight: 1, progress: 4.5, expect: .healthy),
                .check(at: 12, inFlight: 1, progress: 11.5, expect: .healthy),
                .check(at: 20, inFlight: 1, progress: 12, expect: .healthy),
                .check(at: 60, inFlight: 3, progress: 59.75, expect: .healthy),
            ]
        ),
        Scenario(
            name: "an answered probe makes a silent request merely long",
            steps: [
                .check(at: 9, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 9.5, answered: true, expect: .healthy),
                .check(at: 10, inFlight: 1, progress: 0, expect: .healthy),
                // The answer is a sign of life: the next probe comes 9 s after it, not at every check.
                .check(at: 18.25, inFlight: 1, progress: 0, expect: .healthy),
                .check(at: 18.5, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 19.5, answered: false, expect: .hung(silentFor: .seconds(10))),
            ]
        ),
        Scenario(
            name: "progress while the probe is out overrides it",
            steps: [
                .check(at: 9, inFlight: 1, progress: 0, expect: .probe),
                .check(at: 9.5, inFlight: 1, progress: 9.25, expect: .healthy),
                .probe(at: 10, answered: false, expect: .healthy),
                .check(at: 10.25, inFlight: 1, progress: 9.25, expect: .healthy),
                .check(at: 18.25, inFlight: 1, progress: 9.25, expect: .probe),
            ]
        ),
        Scenario(
            name: "one probe at a time, even an overridden one",
            steps: [
                .check(at: 9, inFlight: 1, progress: 0, expect: .probe),
                .check(at: 9.25, inFlight: 1, progress: 9.125, expect: .healthy),
                // A probe is due again, but the old one has not come back: its outcome must not count for a new one.
                .check(at: 18.25, inFlight: 1, progress: 9.125, expect: .probing),
                .probe(at: 18.375, answered: false, expect: .healthy),
                .check(at: 18.5, inFlight: 1, progress: 9.125, expect: .probe),
                .probe(at: 19.5, answered: false, expect: .hung(silentFor: .seconds(10.375))),
            ]
        ),
        Scenario(
            name: "a probe that fails early does not shorten the timeout",
            steps: [
                .check(at: 9, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 9.0625, answered: false, expect: .healthy),
                .check(at: 9.25, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 9.3125, answered: false, expect: .healthy),
                .check(at: 10, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 10.0625, answered: false, expect: .hung(silentFor: .seconds(10.0625))),
            ]
        ),
        Scenario(
            name: "an idle instance is probed and found hung",
            idleProbe: .seconds(5),
            steps: [
                .check(at: 4.75, inFlight: 0, progress: 0, expect: .healthy),
                .check(at: 5, inFlight: 0, progress: 0, expect: .probe),
                .check(at: 5.5, inFlight: 0, progress: 0, expect: .probing),
                .probe(at: 6, answered: false, expect: .hung(silentFor: .seconds(6))),
            ]
        ),
        Scenario(
            name: "an idle instance that answers is probed once per interval",
            idleProbe: .seconds(5),
            steps: [
                .check(at: 5, inFlight: 0, progress: 0, expect: .probe),
                .probe(at: 5.5, answered: true, expect: .healthy),
                .check(at: 10.25, inFlight: 0, progress: 0, expect: .healthy),
                .check(at: 10.5, inFlight: 0, progress: 0, expect: .probe),
                .probe(at: 10.75, answered: true, expect: .healthy),
                .check(at: 12, inFlight: 0, progress: 11, expect: .healthy),
                .check(at: 16, inFlight: 0, progress: 11, expect: .probe),
            ]
        ),
        Scenario(
            name: "without --idle-probe an idle instance is never probed",
            steps: [
                .check(at: 1000, inFlight: 0, progress: 0, expect: .healthy),
                .probe(at: 1001, answered: false, expect: .healthy),  // no probe was out
            ]
        ),
        Scenario(
            name: "a request dispatched during an idle probe overrides it",
            idleProbe: .seconds(5),
            steps: [
                .check(at: 5, inFlight: 0, progress: 0, expect: .probe),
                .check(at: 5.25, inFlight: 1, progress: 5.25, expect: .healthy),
                .probe(at: 6, answered: false, expect: .healthy),
                .check(at: 6.25, inFlight: 1, progress: 5.25, expect: .healthy),
                .check(at: 14.25, inFlight: 1, progress: 5.25, expect: .probe),
                .probe(at: 15.25, answered: false, expect: .hung(silentFor: .seconds(10))),
            ]
        ),
        Scenario(
            name: "a timeout shorter than two probe timeouts probes at half of it",
            timeout: .seconds(1),
            steps: [
                .check(at: 0.25, inFlight: 1, progress: 0, expect: .healthy),
                .check(at: 0.5, inFlight: 1, progress: 0, expect: .probe),
                .probe(at: 1.5, answered: false, expect: .hung(silentFor: .seconds(1.5))),
            ]
        ),
    ]

    @Test(arguments: scenarios)
    func judgesTheInstance(_ scenario: Scenario) {
        var detector = HangDetector(
            timeout: scenario.timeout,
            probeTimeout: scenario.probeTimeout,
            idleProbeInterval: scenario.idleProbe
        )
        for (index, step) in scenario.steps.enumerated() {
            switch step {
            case .check(let at, let inFlight, let progress, let expected):
                let actual = detector.check(
                    inFlight: inFlight,
                    lastProgress: t0 + .seconds(progress),
                    now: t0 + .seconds(at)
                )
                #expect(actual == expected, "step \(index): check at \(at) s")
            case .probe(let at, let answered, let expected):
                let actual = detector.probeFinished(answered: answered, now: t0 + .seconds(at))
                #expect(actual == expected, "step \(index): probe finished at \(at) s")
            }
        }
    }

    /// A supervisor checking every 250 ms (from `phase`) an instance with a request in flight that sends a byte
    /// every 125 ms until it hangs at `hangAt`; a probe is answered 15.625 ms after it starts unless the instance is
    /// hung. All times are binary fractions, so the arithmetic is exact.
    /// - Returns: When the hang was reported and the instance's last progress, or nil if it never was.
    private func simulate(
        hangAt: Double,
        phase: Double,
        timeout: Double = 10,
        probeTimeout: Double = 1,
        until end: Double = 100
    ) -> (reportedAt: Double, lastProgress: Double)? {
        var detector = HangDetector(timeout: .seconds(timeout), probeTimeout: .seconds(probeTimeout))
        var probeEnds: (at: Double, answered: Bool)?
        var now = phase
        func lastProgress(at time: Double) -> Double { (min(time, hangAt) * 8).rounded(.down) / 8 }
        while now < end {
            if let ends = probeEnds, ends.at <= now {
                // The outcome arrives between checks: look at the progress first, then take it.
                _ = detector.check(
                    inFlight: 1,
                    lastProgress: t0 + .seconds(lastProgress(at: ends.at)),
                    now: t0 + .seconds(ends.at)
                )
                probeEnds = nil
                if case .hung = detector.probeFinished(answered: ends.answered, now: t0 + .seconds(ends.at)) {
                    return (ends.at, lastProgress(at: ends.at))
                }
            }
            let progress = t0 + .seconds(lastProgress(at: now))
            if detector.check(inFlight: 1, lastProgress: progress, now: t0 + .seconds(now)) == .probe {
                probeEnds = now >= hangAt ? (now + probeTimeout, false) : (now + 0.015625, true)
            }
            now += 0.25
        }
        return nil
    }

    @Test(arguments: [0.0625, 3.3125, 7.75, 9.0625, 20.5], [0.0, 0.0625, 0.1875])
    func aHangIsFoundWithinTheTimeoutPlusOneSecond(hangAt: Double, phase: Double) throws {
        for (timeout, probeTimeout) in [(10.0, 1.0), (2.0, 1.0), (1.0, 1.0), (30.0, 0.5)] {
            let found = try #require(
                simulate(hangAt: hangAt, phase: phase, timeout: timeout, probeTimeout: probeTimeout),
                "timeout \(timeout) s"
            )
            // Never before the instance was silent for the whole timeout; at most the timeout, a check interval
            // and what the probe's timeout exceeds half the timeout by, after the hang.
            #expect(found.reportedAt - found.lastProgress >= timeout, "timeout \(timeout) s")
            let bound = max(timeout, timeout / 2 + probeTimeout) + 0.25
            #expect(found.reportedAt - hangAt <= bound, "timeout \(timeout) s")
            if timeout >= 2 * probeTimeout {
                #expect(found.reportedAt - hangAt <= timeout + 1, "the spec's bound, timeout \(timeout) s")
            }
        }
    }

    @Test func aSilentButAliveInstanceIsNeverHung() {
        // The request sends nothing for 60 s, but the instance answers every probe.
        var detector = HangDetector(timeout: .seconds(10))
        var probes = 0
        for tick in 0..<240 {
            let now = t0 + .milliseconds(250 * tick)
            if detector.check(inFlight: 1, lastProgress: t0, now: now) == .probe {
                probes += 1
                #expect(detector.probeFinished(answered: true, now: now + .milliseconds(5)) == .healthy)
            }
        }
        // One probe per 9 s of silence, not one per check.
        #expect(probes == 6)
    }

    @Test func describesTheVerdict() {
        #expect(
            HangVerdict.hung(silentFor: .milliseconds(10_250)).description
                == "hung: no response for 10.25 s and a probe got no answer (--hang-timeout)"
        )
        #expect(HangDetector(timeout: .seconds(10)).probeLead == .seconds(1))
        #expect(HangDetector(timeout: .seconds(1), probeTimeout: .seconds(1)).probeLead == .milliseconds(500))
    }
}
