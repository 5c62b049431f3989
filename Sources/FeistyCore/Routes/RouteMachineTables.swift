extension RouteStateMachine {
    /// What the walk needs to know about a dynamic part, as plain data.
    struct PartInfo {
        var isFinal: Bool
        var isSuffixed: Bool
        var captureCount: Int
        var program: PartProgram
    }

    /// The machine's flat buffers: plain pointers only, so that a walk holding a copy touches no reference
    /// count (reading buffers through the class reference made the optimizer retain and release it around
    /// calls). Base pointers without counts: the walk never needs a count, and nine bare pointers copy as
    /// a few register moves, where nine buffer pointers (144 bytes) were a `memcpy` per walk.
    /// `RouteStateMachine` allocates them once and frees them in its `deinit`; a copy is only valid while
    /// the machine is alive.
    struct Tables {
        let nodes: UnsafeMutablePointer<Node>
        let edges: UnsafeMutablePointer<StaticEdge>
        /// Open-addressed hash slots of wide states (indices into `edges`, -1: empty).
        let slots: UnsafeMutablePointer<Int32>
        /// The static edges' key bytes.
        let keys: UnsafeMutablePointer<UInt8>
        let dynamics: UnsafeMutablePointer<DynamicEdge>
        /// Each node's rules, in registration order.
        let ruleLists: UnsafeMutablePointer<Int32>
        /// Per rule, in table order.
        let flags: UnsafeMutablePointer<RuleFlags>
        /// Per dynamic part.
        let partInfo: UnsafeMutablePointer<PartInfo>
        /// The dynamic parts' objects, unretained (`RouteStateMachine.parts` owns them): only the ICU
        /// path of a custom converter needs them.
        let patterns: UnsafeMutablePointer<Unmanaged<PartPattern>>

        func deallocate() {
            nodes.deallocate()
            edges.deallocate()
            slots.deallocate()
            keys.deallocate()
            dynamics.deallocate()
            ruleLists.deallocate()
            flags.deallocate()
            partInfo.deallocate()
            patterns.deallocate()
        }

        /// FNV-1a's starting value.
        static var hashSeed: UInt32 { 2_166_136_261 }

        /// One FNV-1a step.
        @inline(__always)
        static func hashStep(_ hash: UInt32, _ byte: UInt8) -> UInt32 { (hash ^ UInt32(byte)) &* 16_777_619 }

        /// FNV-1a over `bytes[start..<end]`.
        @inline(__always)
        static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32 {
            var hash = hashSeed
            var index = start
            while index < end {
                hash = hashStep(hash, bytes[index])
                index += 1
            }
            return hash
        }

        /// The static child of `node` for `bytes[start..<end]`, or -1; `hash` is the segment's `hash` when
        /// `node` is wide (more than `linearLimit` static edges), unused otherwise.
        @inline(__always)
        func staticChild(
            _ node: Node,
            _ bytes: UnsafeBufferPointer<UInt8>,
            _ start: Int,
            _ end: Int,
            hash: UInt32
        ) -> Int32 {
            let count = end - start
            if node.staticCount <= RouteStateMachine.linearLimit {
                var index = Int(node.staticStart)
                let stop = index + Int(node.staticCount)
                while index < stop {
                    let edge = edges[index]
                    if Int(edge.keyCount) == count, keyEquals(edge, bytes, start, count) { return edge.target }
                    index += 1
                }
                return -1
            }
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
        private func keyEquals(
            _ edge: StaticEdge,
            _ bytes: UnsafeBufferPointer<UInt8>,
            _ start: Int,
            _ count: Int
        ) -> Bool {
            var offset = 0
            let base = Int(edge.keyStart)
            while offset < count {
                if keys[base + offset] != bytes[start + offset] { return false }
                offset += 1
            }
            return true
        }
    }
}
