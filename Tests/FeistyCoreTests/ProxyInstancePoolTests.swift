import NIOCore
import Testing

@testable import FeistyCore

/// Choosing an instance: the fewest requests in flight, never the excluded one, ties shared by rotation; and the
/// counters that choice reads.
@Suite struct ProxyInstancePoolTests {
    let t0 = proxyTestStart

    /// A pool of instances numbered from 1, with `loads[i]` requests in flight on instance i + 1.
    func pool(_ loads: [Int]) throws -> InstancePool {
        var instances: [UpstreamInstance] = []
        for (index, load) in loads.enumerated() {
            let instance = UpstreamInstance(
                id: index + 1,
                address: try SocketAddress(unixDomainSocketPath: "/tmp/feisty-test-\(index + 1).sock")
            )
            for _ in 0..<load { instance.exchangeStarted(now: t0) }
            instances.append(instance)
        }
        return InstancePool(instances)
    }

    /// A unique least-loaded instance wins whatever the rotation (`nil`: none can be picked).
    struct PickCase: Sendable, CustomTestStringConvertible {
        var loads: [Int]
        var excluding: Int?
        var picked: Int?

        var testDescription: String {
            "loads \(loads), excluding \(excluding.map(String.init) ?? "none") → \(picked.map(String.init) ?? "nil")"
        }
    }

    static let pickCases: [PickCase] = [
        PickCase(loads: [2, 1, 0], excluding: nil, picked: 3),
        PickCase(loads: [0, 1, 2], excluding: nil, picked: 1),
        PickCase(loads: [3, 0, 5], excluding: nil, picked: 2),
        // The excluded instance is skipped even when it is the least loaded.
        PickCase(loads: [2, 1, 0], excluding: 3, picked: 2),
        PickCase(loads: [0, 9], excluding: 1, picked: 2),
        // Excluding an instance that is not in the pool changes nothing.
        PickCase(loads: [4, 1], excluding: 7, picked: 2),
        // A single instance is picked however loaded, unless it is the excluded one.
        PickCase(loads: [5], excluding: nil, picked: 1),
        PickCase(loads: [0], excluding: 2, picked: 1),
        PickCase(loads: [0], excluding: 1, picked: nil),
        PickCase(loads: [], excluding: nil, picked: nil),
    ]

    @Test(arguments: ProxyInstancePoolTests.pickCases, [0, 1, 2, 5, 1_000_003] as [UInt])
    func pickTakesTheLeastLoadedInstanceThatIsNotExcluded(_ pick: PickCase, rotation: UInt) throws {
        let pool = try pool(pick.loads)
        #expect(pool.pick(excluding: pick.excluding, rotation: rotation)?.id == pick.picked)
    }

    /// Equal loads: the rotation says where the scan starts, so successive requests spread over the instances.
    @Test(
        arguments: [
            ([0, 0, 0], nil, [1, 2, 3, 1]),
            ([4, 4, 4], nil, [1, 2, 3, 1]),
            ([1, 0, 0], nil, [2, 2, 3, 2]),
            ([0, 0, 0], 2, [1, 3, 3, 1]),
            ([0, 0], 1, [2, 2, 2, 2]),
        ] as [([Int], Int?, [Int])]
    )
    func tiesRotate(loads: [Int], excluding: Int?, picked: [Int]) throws {
        let pool = try pool(loads)
        let picks = (0..<UInt(picked.count)).map { pool.pick(excluding: excluding, rotation: $0)?.id }
        #expect(picks == picked)
    }

    /// `rotation` is documented as any counter (the event loop's wraps with `&+=`): the scan must still visit every
    /// instance when `rotation + offset` wraps past `UInt.max`, which is not a multiple of the pool size.
    @Test func aRotationAboutToWrapStillScansEveryInstance() throws {
        let pool = try pool([2, 1, 0])
        #expect(pool.pick(rotation: .max)?.id == 3)
        #expect(pool.pick(rotation: .max - 1)?.id == 3)  // no wrap before the last offset: fine
    }

    /// A standby is published as a spare: only a request that must avoid every serving instance (its instance just
    /// died) goes there, so a crash costs it no wait for the supervisor to notice.
    @Test func aSpareTakesOnlyRequestsNoServingInstanceMayTake() throws {
        let serving = try pool([0]).instances
        let spare = UpstreamInstance(id: 9, address: try SocketAddress(unixDomainSocketPath: "/tmp/feisty-test-9.sock"))
        let withSpare = InstancePool(serving, spares: [spare])
        #expect(withSpare.pick()?.id == 1)  // new requests: the serving instance, even when the spare is idle
        #expect(withSpare.pick(excluding: 1)?.id == 9)  // a request whose instance died: the spare
        #expect(withSpare.pick(excluding: 9)?.id == 1)
        #expect(InstancePool([], spares: [spare]).pick() == nil)  // no serving instance: requests wait for one
        #expect(InstancePool(serving).pick(excluding: 1) == nil)
    }

    @Test func theCountersFollowTheExchangesAndSteerThePick() throws {
        let pool = try pool([0, 0])
        let first = pool.instances[0]
        let second = pool.instances[1]
        first.exchangeStarted(now: t0 + .seconds(3))
        #expect(first.inFlight == 1)
        #expect(first.lastProgress == t0 + .seconds(3))  // a dispatch counts as progress for hang detection
        #expect(pool.pick(rotation: 0)?.id == 2)
        second.exchangeStarted(now: t0)
        second.exchangeStarted(now: t0)
        #expect(pool.pick(rotation: 1)?.id == 1)
        second.exchangeEnded(answered: true)
        second.exchangeEnded(answered: false)  // refused or cut: not served
        #expect(second.inFlight == 0)
        #expect(second.served == 1)
        #expect(pool.pick(rotation: 0)?.id == 2)
        first.markProgress(now: t0 + .seconds(9))
        #expect(first.lastProgress == t0 + .seconds(9))
    }

    @Test func anInstanceStartsHealthyAndKeepsTheFailureItWasMarkedWith() throws {
        let instance = try pool([0]).instances[0]
        #expect(instance.failure == .none)
        #expect(instance.inFlight == 0 && instance.served == 0)
        instance.markFailed(.hung)
        #expect(instance.failure == .hung)
        instance.markFailed(.crashed)
        #expect(instance.failure == .crashed)
    }

    @Test func containsAndIsEmptyLookAtTheReadyInstances() throws {
        let ready = try pool([0, 0, 0])
        #expect(!ready.isEmpty)
        #expect(ready.contains(1) && ready.contains(3))
        #expect(!ready.contains(0) && !ready.contains(4))
        let none = InstancePool([])
        #expect(none.isEmpty)
        #expect(!none.contains(1))
    }
}
