import FeistyCore
import NIOCore
import NIOHTTP1

/// What the metrics add to a request's CPU on the hot path (bench/metrics_bench.sh runs it after the wrk runs):
///
///     feisty-bench-metrics [RECORDS] [CPU_US_PER_REQUEST]
///
/// Times RECORDS (default 5,000,000) finished exchanges counted into one event loop's `TrafficTally` (what the
/// loop's `TrafficObserver` does per request), cycling through a forwarded 200 on one of 20 rules, a 404 refusal, a
/// 429 and a forwarded 500, against the same loop that only reads each record (the peer, measured in the same run).
/// With CPU_US_PER_REQUEST (feisty's CPU per request measured by the harness) it prints the share of a request.
@main
struct MetricsBenchmark {
    static func main() {
        let arguments = CommandLine.arguments
        let count = arguments.count > 1 ? Int(arguments[1]) ?? 5_000_000 : 5_000_000
        let requestMicroseconds = arguments.count > 2 ? Double(arguments[2]) : nil
        let start = NIODeadline.now()
        var records: [ExchangeRecord] = []
        for index in 0..<80 {
            let verdict: RouteGateDecision = index % 4 == 1 ? .notFound : .forward(rule: index % 20)
            var record = ExchangeRecord(
                client: "192.0.2.\(index)",
                method: .GET,
                target: "/item/\(index)",
                verdict: verdict,
                receivedAt: start
            )
            switch index % 4 {
            case 1: record.refusal = .routeNotFound
            case 2: record.refusal = .throttled(retryAfterSeconds: 1)
            default:
                record.forwardedAt = start + .microseconds(20)
                record.respondedAt = start + .microseconds(Int64(200 + index * 37))
            }
            record.status = record.refusal.map { $0.status.code } ?? (index % 4 == 3 ? 500 : 200)
            record.endedAt = start + .microseconds(Int64(250 + index * 37))
            record.responseBytes = 3
            records.append(record)
        }
        // Warm both loops once (the tally's arrays and dictionary reach their size).
        _ = peer(records, count: 100_000)
        _ = tallied(records, count: 100_000)
        var peerNanoseconds: [Double] = []
        var tallyNanoseconds: [Double] = []
        for _ in 0..<5 {
            peerNanoseconds.append(peer(records, count: count))
            tallyNanoseconds.append(tallied(records, count: count))
        }
        let peerBest = peerNanoseconds.min()!
        let tallyBest = tallyNanoseconds.min()!
        let added = max(0, tallyBest - peerBest)
        print(
            "RESULT peer_ns_per_record=\(format(peerBest)) tally_ns_per_record=\(format(tallyBest)) added_ns=\(format(added))"
        )
        if let requestMicroseconds {
            let share = added / (requestMicroseconds * 1000)
            print("RESULT share_of_request=\(format(share * 100))% (of \(requestMicroseconds) us CPU per request)")
        }
    }

    /// The loop without the tally: reads each record's status and times (so the records are touched alike).
    static func peer(_ records: [ExchangeRecord], count: Int) -> Double {
        var sum: UInt64 = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<count {
                let record = records[index % records.count]
                sum &+= UInt64(record.status) &+ (record.endedAt?.uptimeNanoseconds ?? 0)
            }
        }
        precondition(sum != 42)
        return nanoseconds(elapsed) / Double(count)
    }

    /// The loop counting each record into a tally, as a `TrafficObserver` does.
    static func tallied(_ records: [ExchangeRecord], count: Int) -> Double {
        var tally = TrafficTally()
        var sum: UInt64 = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<count {
                let record = records[index % records.count]
                sum &+= UInt64(record.status) &+ (record.endedAt?.uptimeNanoseconds ?? 0)
                tally.add(record)
            }
        }
        precondition(sum != 42 && tally.requests == count)
        return nanoseconds(elapsed) / Double(count)
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }

    static func format(_ value: Double) -> String {
        String(Double((value * 100).rounded()) / 100)
    }
}
