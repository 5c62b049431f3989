/// `PartWalk`'s memo of failures: per op index `k`, one range `lo...hi` where `hi` is where the op's scan stops.
///
/// - A lazy `path` (`[^/].*?`): the cursors at which the ops after `k` are known not to match; `hi` is a newline or
///   the end of the part, and no newline lies in `lo..<hi`. A scan that reaches a cursor in the range has the same
///   stop, so all of its remaining cursors are in the range: it fails without trying them.
/// - A greedy `string` without a maximum (`[^/]+`, `[^/]*`): the starts at which the op is known to fail; `hi` is
///   a `/` or the end, and no `/` lies in `lo..<hi`. A start in the range has the same stop and a subset of the
///   candidates that failed; a start before it only has to try the candidates before `lo`.
///
/// Two ints per op, on the heap: made only for walks that have already taken many steps (`PartWalk`).
struct DeadRanges {
    private let bounds: UnsafeMutablePointer<Int>

    init(opCount: Int) {
        bounds = .allocate(capacity: 2 * opCount)
        // An empty range (`lo > hi`) for every op.
        for index in 0..<opCount {
            bounds[2 * index] = Int.max
            bounds[2 * index + 1] = Int.min
        }
    }

    func deallocate() { bounds.deallocate() }

    @inline(__always)
    func contains(_ index: Int, _ cursor: Int) -> Bool {
        bounds[2 * index] <= cursor && cursor <= bounds[2 * index + 1]
    }

    /// The op's range (`lo > hi` when empty).
    @inline(__always)
    func range(_ index: Int) -> (Int, Int) { (bounds[2 * index], bounds[2 * index + 1]) }

    /// The scan that reached the range from `from` failed too: the range grows down to `from`.
    func extend(_ index: Int, from: Int) {
        bounds[2 * index] = min(bounds[2 * index], from)
    }

    /// A scan failed at every cursor in `from...to`: that range replaces the op's (a later scan is more likely to
    /// land in the newest one; either is correct).
    func set(_ index: Int, from: Int, to: Int) {
        bounds[2 * index] = from
        bounds[2 * index + 1] = to
    }
}
