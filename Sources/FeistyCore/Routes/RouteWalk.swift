/// One walk of the machine for one request (the state of `StateMachineMatcher.match`).
struct RouteWalk {
    /// The machine's buffers; the matcher keeps the machine (their owner) alive for the whole walk.
    let tables: RouteStateMachine.Tables
    let domain: UnsafeBufferPointer<UInt8>
    let path: UnsafeBufferPointer<UInt8>
    /// The request method's bit (0 when no rule lists the method).
    let methodBit: UInt64
    /// Whether the request is a WebSocket handshake: only rules of the same kind match it.
    let websocket: Bool
    /// Pairs of byte offsets (domain offsets carry `RouteStateMachine.domainTag`).
    let captures: UnsafeMutablePointer<Int>
    var haveMatchFor: UInt64 = 0
    var websocketMismatch = false
    /// The steps the dynamic parts may still take (`PartWalk` steps; ICU's in `PartPattern.icuStepsPerReport`
    /// units); `Int.max`: no bound. Below zero: the walk gave up (`RouteStateMachine.overBudget`).
    var work: Int

    init(
        machine: RouteStateMachine,
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>,
        methodBit: UInt64,
        websocket: Bool,
        captures: UnsafeMutablePointer<Int>,
        work: Int = .max
    ) {
        self.tables = machine.tables
        self.domain = domain
        self.path = path
        self.methodBit = methodBit
        self.websocket = websocket
        self.captures = captures
        self.work = work
    }

    /// `_match(root, [domain, *path.split("/")], [])`: a rule index, `noMatch`, `slashRequired` or `overBudget`.
    mutating func run() -> Int32 { walk(0, -1, 0) }

    @inline(__always)
    private func methodAllowed(_ flags: RouteStateMachine.RuleFlags) -> Bool {
        flags.anyMethod || flags.methods & methodBit != 0
    }

    /// `pos == -1`: the current part is the domain; `0...n`: the path segment starting there;
    /// `n + 1`: no parts left.
    private mutating func walk(_ nodeIndex: Int32, _ pos: Int, _ depth: Int) -> Int32 {
        let node = tables.nodes[Int(nodeIndex)]
        let count = path.count
        if pos == count + 1 {
            var index = Int(node.rulesStart)
            let stop = index + Int(node.rulesCount)
            while index < stop {
                let rule = tables.ruleLists[index]
                let flags = tables.flags[Int(rule)]
                if !methodAllowed(flags) {
                    haveMatchFor |= flags.methods
                } else if flags.websocket != websocket {
                    websocketMismatch = true
                } else {
                    return rule
                }
                index += 1
            }
            if node.emptyStatic >= 0 {
                let child = tables.nodes[Int(node.emptyStatic)]
                var index = Int(child.rulesStart)
                let stop = index + Int(child.rulesCount)
                while index < stop {
                    let rule = tables.ruleLists[index]
                    let flags = tables.flags[Int(rule)]
                    if flags.websocket == websocket, methodAllowed(flags) {
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
        // A wide state looks the segment up by hash: computed while scanning for its end, in the same pass.
        let hashed = node.staticCount > RouteStateMachine.linearLimit
        var hash = RouteStateMachine.Tables.hashSeed
        if pos < 0 {
            buffer = domain
            start = 0
            end = domain.count
            next = 0
            tag = RouteStateMachine.domainTag
            if hashed { hash = RouteStateMachine.Tables.hash(domain, 0, end) }
        } else {
            buffer = path
            start = pos
            var cursor = pos
            if hashed {
                while cursor < count {
                    let byte = path[cursor]
                    if byte == UInt8(ascii: "/") { break }
                    hash = RouteStateMachine.Tables.hashStep(hash, byte)
                    cursor += 1
                }
            } else {
                while cursor < count, path[cursor] != UInt8(ascii: "/") { cursor += 1 }
            }
            end = cursor
            next = cursor < count ? cursor + 1 : count + 1
            tag = 0
        }

        if node.staticCount > 0 {
            let child = tables.staticChild(node, buffer, start, end, hash: hash)
            if child >= 0 {
                let result = walk(child, next, depth)
                if result != RouteStateMachine.noMatch { return result }
            }
        }

        var edgeIndex = Int(node.dynamicStart)
        let edgeStop = edgeIndex + Int(node.dynamicCount)
        while edgeIndex < edgeStop {
            let edge = tables.dynamics[edgeIndex]
            edgeIndex += 1
            let partIndex = Int(edge.part)
            let part = tables.partInfo[partIndex]
            var targetEnd = end
            var remaining = next
            if part.isFinal {
                // Final parts are never in the domain (rejected when compiling).
                targetEnd = count
                remaining = count + 1
            }
            let captureBase = captures + 2 * depth
            let matched: Bool?
            if part.program.usesICU {
                matched = tables.patterns[partIndex]._withUnsafeGuaranteedRef {
                    $0.match(buffer, from: start, to: targetEnd, captures: captureBase, offsetTag: tag, work: &work)
                }
            } else {
                matched = part.program.matchNative(
                    buffer,
                    from: start,
                    to: targetEnd,
                    captures: captureBase,
                    offsetTag: tag,
                    work: &work
                )
            }
            // Out of budget: the part's answer is void, and so is the walk's.
            if work < 0 { return RouteStateMachine.overBudget }
            guard let suffixSlash = matched else { continue }
            if part.isSuffixed, suffixSlash { remaining = count }
            let result = walk(edge.target, remaining, depth + part.captureCount)
            if result != RouteStateMachine.noMatch { return result }
        }

        if pos == count {
            var index = Int(node.rulesStart)
            let stop = index + Int(node.rulesCount)
            while index < stop {
                let rule = tables.ruleLists[index]
                let flags = tables.flags[Int(rule)]
                index += 1
                if flags.strictSlashes { continue }
                if !methodAllowed(flags) {
                    haveMatchFor |= flags.methods
                } else if flags.websocket != websocket {
                    websocketMismatch = true
                } else {
                    return rule
                }
            }
        }
        return RouteStateMachine.noMatch
    }
}
