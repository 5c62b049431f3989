import Synchronization

/// A value split into a power-of-two number of independently locked shards, picked by a key's hash, so event loops
/// that touch different clients rarely wait for each other (a striped lock). Each shard lives in its own object.
struct Striped<Shard: Sendable>: Sendable {
    private final class Box: Sendable {
        let state: Mutex<Shard>
        /// A cache line after the lock word, so two shards' locks never share a line (two event loops taking
        /// neighbouring shards would otherwise bounce it between their cores).
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
        init(_ shard: Shard) { state = Mutex(shard) }
    }

    private let boxes: [Box]
    private let shift: UInt64

    /// Creates `count` shards (rounded up to a power of two, 1...1024), each made by `make`.
    init(count: Int, _ make: () -> Shard) {
        var bits: UInt64 = 0
        while 1 << bits < min(max(count, 1), 1024) { bits += 1 }
        boxes = (0..<(1 << bits)).map { _ in Box(make()) }
        // With one shard the shift is 64, which `&>>` would take modulo 64: keep the index 0 explicitly.
        shift = 64 - bits
    }

    /// How many shards there are.
    var count: Int { boxes.count }

    /// The shard `key` lives in: the top bits of its hash after a multiplicative mix (the dictionary inside uses the
    /// low bits, so the two choices stay independent).
    func index(of key: some Hashable) -> Int {
        guard boxes.count > 1 else { return 0 }
        let mixed = UInt64(truncatingIfNeeded: key.hashValue) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> shift)
    }

    /// Runs `body` with shard `index` locked.
    func withLock<Result: Sendable>(_ index: Int, _ body: (inout Shard) -> Result) -> Result {
        boxes[index].state.withLock { body(&$0) }
    }
}
