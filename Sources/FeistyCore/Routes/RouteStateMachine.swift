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
    /// Added to capture offsets that point into the domain instead of the path.
    static let domainTag = 1 << 48

    let nodes: UnsafeMutableBufferPointer<Node>
    let edges: UnsafeMutableBufferPointer<StaticEdge>
    let slots: UnsafeMutableBufferPointer<Int32>
    let keys: UnsafeMutableBufferPointer<UInt8>
    let dynamics: UnsafeMutableBufferPointer<DynamicEdge>
    let ruleLists: UnsafeMutableBufferPointer<Int32>
    let flags: UnsafeMutableBufferPointer<RuleFlags>
    let parts: [CompiledPart]
    let partIsFinal: UnsafeMutableBufferPointer<Bool>
    let partIsSuffixed: UnsafeMutableBufferPointer<Bool>
    let partCaptures: UnsafeMutableBufferPointer<Int>
    /// The dynamic parts' matchers, unretained (`parts` owns them) so a walk touches no reference counts.
    let patterns: UnsafeMutableBufferPointer<Unmanaged<PartPattern>>
    /// Largest `captureCount` of any rule (the size of a walk's capture stack, in ranges).
    let maxCaptures: Int

    /// Builds the machine; `rules` are in table order, `order` lists them in registration order.
    /// The default subdomain's bytes: the domain part of every request when Flask does not match hosts.
    let defaultDomain: UnsafeMutableBufferPointer<UInt8>
    /// Every method listed by a rule, upper-case, packed little-endian into a `UInt64` (0 if longer than 8).
    let packedMethods: UnsafeMutableBufferPointer<UInt64>

    init(rules: [CompiledRule], order: [Int], methodNames: [String], methodBits: [String: Int], defaultDomain: String) {
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
                let hash = bytes.withUnsafeBufferPointer { Self.hash($0, 0, $0.count) }
                edgeList.append(
                    StaticEdge(
                        keyStart: Int32(keyBytes.count), keyCount: Int32(bytes.count), hash: hash,
                        target: Int32(builder.staticChildren[key]!)))
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
            for (_, part, child) in builder.dynamic { dynamicList.append(DynamicEdge(part: Int32(part), target: Int32(child))) }
            node.rulesStart = Int32(ruleList.count)
            node.rulesCount = Int32(builder.rules.count)
            ruleList.append(contentsOf: builder.rules.map(Int32.init))
            nodeList.append(node)
        }
        let flagList = rules.map { rule in
            RuleFlags(
                methods: (rule.source.methods ?? []).reduce(UInt64(0)) { mask, method in
                    mask | (methodBits[method].map { UInt64(1) << UInt64($0) } ?? 0)
                },
                anyMethod: rule.source.methods == nil, strictSlashes: rule.source.strictSlashes,
                websocket: rule.source.websocket, mergeSlashes: rule.source.mergeSlashes,
                needsValidation: rule.converters.values.contains { converter in
                    switch converter.behaviour {
                    case .int(let fixedDigits, let minimum, let maximum, _):
                        fixedDigits != 0 || minimum != nil || maximum != nil
                    case .float(let minimum, let maximum, _): minimum != nil || maximum != nil
                    default: false
                    }
                })
        }
        self.nodes = Self.copy(nodeList)
        self.edges = Self.copy(edgeList)
        self.slots = Self.copy(slotList)
        self.keys = Self.copy(keyBytes)
        self.dynamics = Self.copy(dynamicList)
        self.ruleLists = Self.copy(ruleList)
        self.flags = Self.copy(flagList)
        self.parts = parts
        self.partIsFinal = Self.copy(parts.map(\.isFinal))
        self.partIsSuffixed = Self.copy(parts.map(\.isSuffixed))
        self.partCaptures = Self.copy(parts.map { $0.pattern?.captureCount ?? 0 })
        self.patterns = Self.copy(parts.map { Unmanaged.passUnretained($0.pattern!) })
        self.defaultDomain = UnsafeMutableBufferPointer(rebasing: Self.copy(Array(defaultDomain.utf8))[0..<defaultDomain.utf8.count])
        self.packedMethods = Self.copy(methodNames.map { name in
            name.utf8.count <= 8 ? Self.pack(name.utf8) : 0
        })
        self.maxCaptures = max(1, rules.map(\.captureCount).max() ?? 0)
    }

    deinit {
        nodes.deallocate()
        edges.deallocate()
        slots.deallocate()
        keys.deallocate()
        dynamics.deallocate()
        ruleLists.deallocate()
        flags.deallocate()
        partIsFinal.deallocate()
        partIsSuffixed.deallocate()
        partCaptures.deallocate()
        patterns.deallocate()
        defaultDomain.deallocate()
        packedMethods.deallocate()
    }

    /// Up to 8 ASCII bytes, upper-cased, packed little-endian (so no real method packs to 0).
    @inline(__always)
    static func pack<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var packed: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            let upper = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
            packed |= UInt64(upper) << shift
            shift += 8
        }
        return packed
    }

    private static func copy<Element>(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return buffer
    }

    /// FNV-1a over `bytes[start..<end]`.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        var index = start
        while index < end {
            hash = (hash ^ UInt32(bytes[index])) &* 16_777_619
            index += 1
        }
        return hash
    }

    /// The static child of `node` for `bytes[start..<end]`, or -1.
    @inline(__always)
    func staticChild(_ node: Node, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int32 {
        let count = end - start
        if node.staticCount <= Self.linearLimit {
            var index = Int(node.staticStart)
            let stop = index + Int(node.staticCount)
            while index < stop {
                let edge = edges[index]
                if Int(edge.keyCount) == count, keyEquals(edge, bytes, start, count) { return edge.target }
                index += 1
            }
            return -1
        }
        let hash = Self.hash(bytes, start, end)
        let mask = Int(node.slotMask)
        var slot = Int(hash) & mask
        while true {
            let entry = slots[Int(node.slotStart) + slot]
            if entry < 0 { return -1 }
            let edge = edges[Int(entry)]
            if edge.hash == hash, Int(edge.keyCount) == count, keyEquals(edge, bytes, start, count) {
                return edge.target
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private func keyEquals(_ edge: StaticEdge, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Bool {
        var offset = 0
        let base = Int(edge.keyStart)
        while offset < count {
            if keys[base + offset] != bytes[start + offset] { return false }
            offset += 1
        }
        return true
    }
}

/// One walk of the machine for one request (the state of `StateMachineMatcher.match`).
struct RouteWalk {
    // unowned(unsafe): the matcher keeps the machine alive for the whole walk; no reference counting.
    unowned(unsafe) let machine: RouteStateMachine
    let domain: UnsafeBufferPointer<UInt8>
    let path: UnsafeBufferPointer<UInt8>
    /// The request method's bit (0 when no rule lists the method).
    let methodBit: UInt64
    /// Pairs of byte offsets (domain offsets carry `RouteStateMachine.domainTag`).
    let captures: UnsafeMutablePointer<Int>
    var haveMatchFor: UInt64 = 0
    var websocketMismatch = false

    init(
        machine: RouteStateMachine, domain: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>,
        methodBit: UInt64, captures: UnsafeMutablePointer<Int>
    ) {
        self.machine = machine
        self.domain = domain
        self.path = path
        self.methodBit = methodBit
        self.captures = captures
    }

    /// `_match(root, [domain, *path.split("/")], [])`: a rule index, `noMatch` or `slashRequired`.
    mutating func run() -> Int32 { walk(0, -1, 0) }

    @inline(__always)
    private func methodAllowed(_ flags: RouteStateMachine.RuleFlags) -> Bool {
        flags.anyMethod || flags.methods & methodBit != 0
    }

    /// `pos == -1`: the current part is the domain; `0...n`: the path segment starting there;
    /// `n + 1`: no parts left.
    private mutating func walk(_ nodeIndex: Int32, _ pos: Int, _ depth: Int) -> Int32 {
        unowned(unsafe) let machine = self.machine
        let node = machine.nodes[Int(nodeIndex)]
        let count = path.count
        if pos == count + 1 {
            var index = Int(node.rulesStart)
            let stop = index + Int(node.rulesCount)
            while index < stop {
                let rule = machine.ruleLists[index]
                let flags = machine.flags[Int(rule)]
                if !methodAllowed(flags) {
                    haveMatchFor |= flags.methods
                } else if flags.websocket {
                    websocketMismatch = true
                } else {
                    return rule
                }
                index += 1
            }
            if node.emptyStatic >= 0 {
                let child = machine.nodes[Int(node.emptyStatic)]
                var index = Int(child.rulesStart)
                let stop = index + Int(child.rulesCount)
                while index < stop {
                    let rule = machine.ruleLists[index]
                    let flags = machine.flags[Int(rule)]
                    if !flags.websocket, methodAllowed(flags) {
                        return flags.strictSlashes ? RouteStateMachine.slashRequired : rule
                    }
                    index += 1
                }
            }
            return RouteStateMachine.noMatch
        }

        let buffer: UnsafeBufferPointer<UInt8>
        let start: Int
        let end: Int
        let next: Int
        let tag: Int
        if pos < 0 {
            buffer = domain
            start = 0
            end = domain.count
            next = 0
            tag = RouteStateMachine.domainTag
        } else {
            buffer = path
            start = pos
            var cursor = pos
            while cursor < count, path[cursor] != UInt8(ascii: "/") { cursor += 1 }
            end = cursor
            next = cursor < count ? cursor + 1 : count + 1
            tag = 0
        }

        if node.staticCount > 0 {
            let child = machine.staticChild(node, buffer, start, end)
            if child >= 0 {
                let result = walk(child, next, depth)
                if result != RouteStateMachine.noMatch { return result }
            }
        }

        var edgeIndex = Int(node.dynamicStart)
        let edgeStop = edgeIndex + Int(node.dynamicCount)
        while edgeIndex < edgeStop {
            let edge = machine.dynamics[edgeIndex]
            edgeIndex += 1
            let partIndex = Int(edge.part)
            var targetEnd = end
            var remaining = next
            if machine.partIsFinal[partIndex] {
                // Final parts are never in the domain (rejected when compiling).
                targetEnd = count
                remaining = count + 1
            }
            let captureBase = captures + 2 * depth
            guard
                let suffixSlash = machine.patterns[partIndex]._withUnsafeGuaranteedRef({
                    $0.match(buffer, from: start, to: targetEnd, captures: captureBase, offsetTag: tag)
                })
            else { continue }
            if machine.partIsSuffixed[partIndex], suffixSlash { remaining = count }
            let result = walk(edge.target, remaining, depth + machine.partCaptures[partIndex])
            if result != RouteStateMachine.noMatch { return result }
        }

        if pos == count {
            var index = Int(node.rulesStart)
            let stop = index + Int(node.rulesCount)
            while index < stop {
                let rule = machine.ruleLists[index]
                let flags = machine.flags[Int(rule)]
                index += 1
                if flags.strictSlashes { continue }
                if !methodAllowed(flags) {
                    haveMatchFor |= flags.methods
                } else if flags.websocket {
                    websocketMismatch = true
                } else {
                    return rule
                }
            }
        }
        return RouteStateMachine.noMatch
    }
}
