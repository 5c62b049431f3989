#if canImport(FeistyCore)
    import FeistyCore
#endif

/// Runs generated requests against route tables and checks `RouteInvariants` on each: the crash, hang and
/// consistency fuzzing of the request-target decoder and the matcher.
public enum InvariantFuzzer {
    /// What a run found.
    public struct Report: Sendable {
        public var cases = 0
        public var tables = 0
        public var failures: [String] = []
        /// The slowest request (seconds for its whole check, which calls the matcher six or so times).
        public var slowest: (seconds: Double, request: String) = (0, "")
        /// How often each verdict kind came up, so that a run can show what it covered.
        public var kinds: [String: Int] = [:]

        public init() {}
    }

    /// Checks `cases` requests, spread round-robin over `tables`, generated from `seed`; a table the matcher
    /// cannot compile is itself a failure.
    public static func run(tables: [RouteTable], cases: Int, seed: UInt64) -> Report {
        var report = Report()
        var random = SeededRandom(seed: seed)
        var prepared: [(RouteMatcher, FuzzRequestGenerator)] = []
        for (index, table) in tables.enumerated() {
            do {
                prepared.append((try RouteMatcher(table: table), FuzzRequestGenerator(table: table)))
            } catch {
                report.failures.append("table \(index) does not compile: \(error)")
            }
        }
        report.tables = prepared.count
        guard !prepared.isEmpty else { return report }
        let clock = ContinuousClock()
        for number in 0..<cases {
            let (matcher, generator) = prepared[number % prepared.count]
            let request = generator.next(using: &random)
            let start = clock.now
            let problem = RouteInvariants.violation(matcher, request)
            let elapsed = clock.now - start
            let seconds = elapsed.timeInterval
            if seconds > report.slowest.seconds {
                report.slowest = (seconds, "table \(number % prepared.count) \(request)")
            }
            report.cases += 1
            let verdict = matcher.gate(
                method: request.method,
                target: request.target,
                host: request.host,
                websocket: request.websocket
            )
            report.kinds[kind(verdict), default: 0] += 1
            if let problem {
                report.failures.append(
                    "seed \(seed) case \(number) table \(number % prepared.count) \(request): \(problem)"
                )
            }
        }
        return report
    }

    static func kind(_ decision: RouteGateDecision) -> String {
        switch decision {
        case .forward(let rule): rule == nil ? "forward-other" : "forward-rule"
        case .notFound: "404"
        case .methodNotAllowed: "405"
        case .badHost: "bad-host"
        }
    }
}
