import FeistyCore
import Foundation

/// The route matcher benchmark: `feisty-bench-matcher WORKLOAD.json [SECONDS] [gate]`.
///
/// The workload (written by bench/matcher_bench.sh) holds a route table and request targets; the
/// benchmark times `RouteMatcher.gate` (the proxy hot path) and `RouteMatcher.match` over them on the
/// calling thread and prints one `RESULT` line per entry point.
///
/// `FEISTY_BENCH_PASSES=N` runs exactly N passes per entry point instead (no warm-up, no clock), so that
/// `valgrind --tool=callgrind` can count instructions per request: a stable figure on a shared machine.
@main
struct MatcherBenchmark {
    struct Workload: Decodable {
        var name: String
        var table: RouteTable
        var requests: [[String]]
    }

    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: feisty-bench-matcher WORKLOAD.json [SECONDS]\n".utf8))
            exit(2)
        }
        let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 2 : 2
        let workload = try JSONDecoder().decode(
            Workload.self,
            from: Data(contentsOf: URL(fileURLWithPath: arguments[1]))
        )
        let matcher = try RouteMatcher(table: workload.table)
        // Three parallel arrays rather than an array of tuples: reading a tuple of three strings out of
        // an array copies it (a memmove plus retains), which the proxy, holding the request, never pays.
        let methods = workload.requests.map { $0[0] }
        let targets = workload.requests.map { $0[1] }
        let hosts = workload.requests.map { $0[2] }
        let count = workload.requests.count

        var forwarded = 0
        let gateRate = measure(seconds: seconds, count: count) {
            for index in 0..<count {
                let decision = matcher.gate(method: methods[index], target: targets[index], host: hosts[index])
                if case .forward = decision { forwarded += 1 }
            }
        }
        print("RESULT \(workload.name) swift-gate \(Int(gateRate)) matches/s (forwarded \(forwarded))")
        if arguments.count > 3, arguments[3] == "gate" { return }
        var matches = 0
        let matchRate = measure(seconds: seconds, count: count) {
            for index in 0..<count {
                let verdict = matcher.match(method: methods[index], target: targets[index], host: hosts[index])
                if case .match = verdict { matches += 1 }
            }
        }
        print("RESULT \(workload.name) swift-match \(Int(matchRate)) matches/s (matched \(matches))")
    }

    /// Runs `body` (one pass over `count` requests) repeatedly for about `seconds`; returns requests/s.
    static func measure(seconds: Double, count: Int, _ body: () -> Void) -> Double {
        if let fixed = ProcessInfo.processInfo.environment["FEISTY_BENCH_PASSES"].flatMap(Int.init) {
            for _ in 0..<fixed { body() }
            return Double(fixed * count)
        }
        for _ in 0..<3 { body() }  // warm up
        let clock = ContinuousClock()
        var passes = 0
        let start = clock.now
        var elapsed = Duration.zero
        while elapsed < .seconds(seconds) {
            body()
            passes += 1
            elapsed = clock.now - start
        }
        let total = elapsed.timeInterval
        return Double(passes * count) / total
    }
}
