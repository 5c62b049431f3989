import NIOCore
import Synchronization

/// Collects the app's response times per instance and route on one event loop (without locks), for the slowness
/// baselines; the supervisor harvests every loop's collection once per window, on that loop.
final class LatencyObserver: ExchangeObserver, @unchecked Sendable {
    let eventLoop: any EventLoop
    private var byInstance: [Int: [Int: LatencyHistogram]] = [:]

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func exchangeEnded(_ record: ExchangeRecord) {
        // Only the app's own answers on a matched rule say something about the instance's speed.
        guard record.refusal == nil, let instance = record.instance, let rule = record.rule,
            let latency = record.upstreamLatency
        else { return }
        byInstance[instance, default: [:]][rule, default: LatencyHistogram()]
            .record(nanoseconds: UInt64(max(0, latency.nanoseconds)))
    }

    /// Returns what was collected since the last harvest and starts over (call on the loop).
    func harvest() -> [Int: [Int: LatencyHistogram]] {
        defer { byInstance = [:] }
        return byInstance
    }
}

/// Every event loop's ``LatencyObserver`` of one proxy, merged off the hot path.
public final class LatencyCollection: Sendable {
    private let observers: Mutex<[LatencyObserver]> = Mutex([])

    /// Creates an empty collection (the proxy adds one observer per event loop).
    public init() {}

    func makeObserver(on eventLoop: any EventLoop) -> LatencyObserver {
        let observer = LatencyObserver(eventLoop: eventLoop)
        observers.withLock { $0.append(observer) }
        return observer
    }

    /// The response times per instance and rule since the last harvest, merged over every event loop.
    public func harvest() async -> [Int: [Int: LatencyHistogram]] {
        var merged: [Int: [Int: LatencyHistogram]] = [:]
        for observer in observers.withLock({ $0 }) {
            guard let part = try? await observer.eventLoop.submit({ observer.harvest() }).get() else { continue }
            for (instance, rules) in part {
                for (rule, histogram) in rules {
                    merged[instance, default: [:]][rule, default: LatencyHistogram()].merge(histogram)
                }
            }
        }
        return merged
    }
}
