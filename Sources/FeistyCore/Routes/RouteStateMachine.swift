/// Werkzeug's `StateMachineMatcher`, precompiled into flat, immutable buffers.
///
/// The walk is the same recursion as `StateMachineMatcher.match._match`: static transitions first (a byte
/// comparison, or an open-addressed hash table for wide states), then the dynamic transitions sorted
/// stably by weight, the `parts == []` base case with its `SlashRequired` check and the `parts == [""]`
/// non-strict case. The buffers are allocated once and never mutated, so a walk allocates nothing and
/// touches no reference counts.
final class RouteStateMachine: @unchecked Sendable {
    // @unchecked: every buffer is written in `init` only and freed in `deinit`; matching only reads.

    struct Node {
        var staticStart: Int32 = 0
        var staticCount: Int32 = 0
        /// Start of this node's hash slots (`slotMask + 1` of them) when `staticCount > linearLimit`.
        var slotStart: Int32 = 0
        var slotMask: Int32 = 0
        var emptyStatic: Int32 = -1
        var dynamicStart: Int32 = 0
        var dynamicCount: Int32 = 0
        var rulesStart: Int32 = 0
        var rulesCount: Int32 = 0
    }

    struct StaticEdge {
        var keyStart: Int32
        var keyCount: Int32
        var hash: UInt32
        var target: Int32
    }

    struct DynamicEdge {
        var part: Int32
        var target: Int32
    }

    /// What the hot path needs to know about a rule.
    struct RuleFlags {
        var methods: UInt64
        var anyMethod: Bool
        var strictSlashes: Bool
        var websocket: Bool
        var mergeSlashes: Bool
        /// Whether a converter's `to_python` can reject a match (int/float bounds, fixed digits).
        var needsValidation: Bool
    }

    static let linearLimit: Int32 = 6
    static let noMatch: Int32 = -1
    static let slashRequired: Int32 = -2
    /// The walk spent its work budget before deciding (`RouteWalk.work`).
    static let overBudget: Int32 = -3
    /// Added to capture offsets that point into the domain instead of the path.
    static let domainTag = 1 << 48

    /// The flat buffers the walk reads; owned (allocated and freed) by this object.
    let tables: Tables
    /// The parts behind `tables.partInfo` and `tables.patterns`: they own the programs' buffers and the
    /// ICU regexes.
    let parts: [CompiledPart]
    /// Largest `captureCount` of any rule (the size of a walk's capture stack, in ranges).
    let maxCaptures: Int
    /// The default subdomain's bytes: the domain part of every request when Flask does not match hosts.
    let defaultDomain: UnsafeMutableBufferPointer<UInt8>

    /// Builds the machine; `rules` are in table order, `order` lists them in registration order.
    init(rules: [CompiledRule], order: [Int], methods: RouteMethods, defaultDomain: String) {
        final class Builder {
            var staticChildren: [String: Int] = [:]
            var staticOrder: [String] = []
            var dynamic: [(CompiledPart.Identity, Int, Int)] = []  // identity, part index, child
            var rules: [Int] = []
        }
        var builders = [Builder()]
        var parts: [CompiledPart] = []
        var partIndex: [CompiledPart.Identity: Int] = [:]
        for ruleIndex in order {
            var state = 0
            for part in rules[ruleIndex].parts {
                if part.isStatic {
                    if let child = builders[state].staticChildren[part.content] {
                        state = child
                    } else {
                        builders.append(Builder())
                        builders[state].staticChildren[part.content] = builders.count - 1
                        builders[state].staticOrder.append(part.content)
                        state = builders.count - 1
                    }
                } else {
                    let identity = part.identity
                    if let existing = builders[state].dynamic.first(where: { $0.0 == identity }) {
                        state = existing.2
                    } else {
                        let index: Int
                        if let known = partIndex[identity] {
                            index = known
                        } else {
                            index = parts.count
                            parts.append(part)
                            partIndex[identity] = index
                        }
                        builders.append(Builder())
                        builders[state].dynamic.append((identity, index, builders.count - 1))
                        state = builders.count - 1
                    }
                }
            }
            builders[state].rules.append(ruleIndex)
        }
        // `StateMachineMatcher.update`: a stable sort of every state's dynamic transitions by weight.
        for builder in builders {
            builder.dynamic = builder.dynamic.enumerated().sorted {
                $0.element.0.weight != $1.element.0.weight
                    ? $0.element.0.weight < $1.element.0.weight : $0.offset < $1.offset
            }.map(\.element)
        }

        var nodeList: [Node] = []
        var edgeList: [StaticEdge] = []
        var slotList: [Int32] = []
        var keyBytes: [UInt8] = []
        var dynamicList: [DynamicEdge] = []
        var ruleList: [Int32] = []
        for builder in builders {
            var node = Node()
            node.staticStart = Int32(edgeList.count)
            node.staticCount = Int32(builder.staticOrder.count)
            for key in builder.staticOrder {
                let bytes = Array(key.utf8)
                let hash = bytes.withUnsafeBufferPointer { Tables.hash($0, 0, $0.count) }
                edgeList.append(
                    StaticEdge(
                        keyStart: Int32(keyBytes.count),
                        keyCount: Int32(bytes.count),
                        hash: hash,
                        target: Int32(builder.staticChildren[key]!)
                    )
                )
                keyBytes.append(contentsOf: bytes)
            }
            if node.staticCount > Self.linearLimit {
                var size = 1
                while size < Int(node.staticCount) * 2 { size <<= 1 }
                node.slotStart = Int32(slotList.count)
                node.slotMask = Int32(size - 1)
                var table = [Int32](repeating: -1, count: size)
                for offset in 0..<Int(node.staticCount) {
                    let edge = edgeList[Int(node.staticStart) + offset]
                    var slot = Int(edge.hash) & (size - 1)
                    while table[slot] >= 0 { slot = (slot + 1) & (size - 1) }
                    table[slot] = node.staticStart + Int32(offset)
                }
                slotList.append(contentsOf: table)
            }
            node.emptyStatic = builder.staticChildren[""].map(Int32.init) ?? -1
            node.dynamicStart = Int32(dynamicList.count)
            node.dynamicCount = Int32(builder.dynamic.count)
            for (_, part, child) in builder.dynamic {
                dynamicList.append(DynamicEdge(part: Int32(part), target: Int32(child)))
            }
            node.rulesStart = Int32(ruleList.count)
            node.rulesCount = Int32(builder.rules.count)
            ruleList.append(contentsOf: builder.rules.map(Int32.init))
            nodeList.append(node)
        }
        let flagList = rules.map { rule in
            RuleFlags(
                methods: (rule.source.methods ?? []).reduce(UInt64(0)) { mask, method in
                    mask | (methods.bits[method].map { UInt64(1) << UInt64($0) } ?? 0)
                },
                anyMethod: rule.source.methods == nil,
                strictSlashes: rule.source.strictSlashes,
                websocket: rule.source.websocket,
                mergeSlashes: rule.source.mergeSlashes,
                // A rule with Python converters is judged by the app's interpreter (`matchNatively`) or
                // forwarded (the gate): its native converters must not reject before the Python ones run.
                needsValidation: !rule.source.runsPythonConverters && rule.converters.values.contains { converter in
                    switch converter.behaviour {
                    case .int(let fixedDigits, let minimum, let maximum, _):
                        fixedDigits != 0 || minimum != nil || maximum != nil
                    case .float(let minimum, let maximum, _): minimum != nil || maximum != nil
                    default: false
                    }
                }
            )
        }
        self.tables = Tables(
            nodes: Self.copyBase(nodeList),
            edges: Self.copyBase(edgeList),
            slots: Self.copyBase(slotList),
            keys: Self.copyBase(keyBytes),
            dynamics: Self.copyBase(dynamicList),
            ruleLists: Self.copyBase(ruleList),
            flags: Self.copyBase(flagList),
            partInfo: Self.copyBase(
                parts.map { part in
                    PartInfo(
                        isFinal: part.isFinal,
                        isSuffixed: part.isSuffixed,
                        captureCount: part.pattern!.captureCount,
                        program: part.pattern!.program
                    )
                }
            ),
            patterns: Self.copyBase(parts.map { Unmanaged.passUnretained($0.pattern!) })
        )
        self.parts = parts
        self.defaultDomain = UnsafeMutableBufferPointer(
            rebasing: Self.copy(Array(defaultDomain.utf8))[0..<defaultDomain.utf8.count]
        )
        self.maxCaptures = max(1, rules.map(\.captureCount).max() ?? 0)
    }

    deinit {
        tables.deallocate()
        defaultDomain.deallocate()
    }

    private static func copy<Element>(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return buffer
    }

    private static func copyBase<Element>(_ array: [Element]) -> UnsafeMutablePointer<Element> {
        copy(array).baseAddress!
    }
}
