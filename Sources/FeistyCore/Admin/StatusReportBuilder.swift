import Foundation
import NIOPosix

/// Gathers ``StatusReport`` from the sources, when `/status` is asked for.
struct StatusReportBuilder {
    /// How many bans and offenders are listed (the counts cover all of them).
    static let listLimit = 50

    var sources: AdminSources

    func report(now: Date = Date()) async -> StatusReport {
        let traffic = await sources.traffic()
        let pool = sources.pool?()
        var guardReport: StatusReport.Guard?
        if let service = sources.guardService { guardReport = await guardStatus(service, now: now) }
        return StatusReport(
            feisty: .init(
                version: FeistyVersion.current,
                pid: Int(ProcessInfo.processInfo.processIdentifier),
                startedAt: sources.startedAt,
                uptimeSeconds: now.timeIntervalSince(sources.startedAt),
                rssBytes: OwnMemory.residentBytes(),
                openConnections: OwnMemory.openSockets(),
                app: sources.app,
                listen: sources.listener.current,
                ready: sources.isReady,
                guard: sources.guardService != nil
            ),
            traffic: traffic.map(StatusReport.Traffic.init),
            instances: pool.map { instances($0, now: now) } ?? [],
            events: (sources.events?.recent ?? []).suffix(100).map {
                .init(
                    at: $0.at,
                    kind: $0.kind.rawValue,
                    instance: $0.instance,
                    cause: $0.cause,
                    detectedAfterSeconds: $0.detectedAfter?.timeInterval
                )
            },
            guard: guardReport,
            routes: Self.routes(sources.routeTable(), traffic: traffic)
        )
    }

    private func instances(_ pool: PoolStatus, now: Date) -> [StatusReport.Instance] {
        let memory = ProcessTreeMemory.residentBytes(ofProcessGroups: Set(pool.instances.compactMap(\.processID)))
        return pool.instances.map { instance in
            StatusReport.Instance(
                id: instance.id,
                pid: instance.processID.map(Int.init),
                state: instance.state,
                address: instance.address,
                ageSeconds: now.timeIntervalSince(instance.launchedAt),
                rssBytes: instance.processID.flatMap { memory[$0] }.map(Int.init),
                requests: instance.requests
            )
        }
    }

    /// The route table's rules joined with their traffic by index.
    static func routes(_ table: RouteTable?, traffic: TrafficStatus?) -> [StatusReport.Route] {
        guard let table else { return [] }
        let byIndex = Dictionary(
            (traffic?.routes ?? []).map { ($0.index, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        return table.rules.enumerated().map { index, rule in
            StatusReport.Route(
                index: index,
                rule: rule.rule,
                methods: rule.methods,
                endpoint: rule.endpoint,
                requests: byIndex[index]?.requests ?? (traffic == nil ? nil : 0),
                latencyMs: byIndex[index]?.latencyMs
            )
        }
    }

    private func guardStatus(_ service: GuardService, now: Date) async -> StatusReport.Guard {
        let clientGuard = service.clientGuard
        let counters = clientGuard.counters
        let store = service.store
        let limit = Self.listLimit
        let records =
            (try? await NIOThreadPool.singleton.runIfActive { try store.recentRecords(at: now, limit: limit) }) ?? []
        let bans = clientGuard.bans
        let offenders = clientGuard.topOffenders(limit: Self.listLimit)
        return StatusReport.Guard(
            strikesTotal: counters.strikes,
            bansActive: bans.count,
            bansTotal: counters.bans,
            refusedTotal: counters.refusedRequests,
            throttledTotal: counters.throttledRequests,
            bans: records.map { record in
                StatusReport.Ban(
                    client: record.ban.key.description,
                    reason: record.ban.reason,
                    since: record.ban.since,
                    until: record.ban.until,
                    count: record.repeatCount
                )
            },
            topOffenders: offenders.map { offender in
                StatusReport.Offender(
                    client: offender.client.description,
                    strikes: offender.strikes,
                    banned: bans.ban(covering: offender.client.network.network) != nil
                )
            }
        )
    }
}
