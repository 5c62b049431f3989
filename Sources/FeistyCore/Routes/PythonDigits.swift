/// The characters the app's interpreter takes for a decimal digit: where its `re` `\d` holds (`str.isdecimal`),
/// which the int and float converters' `\d+` matches. That set is the interpreter's Unicode version (CPython 3.11
/// knows Unicode 14), so the probe reports it (`digit_ranges`: `"30-39,660-669,..."`, inclusive hex ranges);
/// without it (an older report) the matcher falls back on Swift's own Unicode table.
struct PythonDigits: Sendable, Hashable {
    /// Inclusive bounds, flat and ascending: `[first0, last0, first1, last1, ...]`.
    let bounds: [UInt32]

    /// Parses the probe's `digit_ranges`; `nil` when it is not well-formed (ascending, disjoint, hex `a-b`) or empty.
    init?(_ text: String) {
        var bounds: [UInt32] = []
        for range in text.split(separator: ",") {
            let ends = range.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, let first = UInt32(ends[0], radix: 16), let last = UInt32(ends[1], radix: 16),
                first <= last, last <= 0x10FFFF, bounds.last.map({ $0 < first }) ?? true
            else { return nil }
            bounds += [first, last]
        }
        guard !bounds.isEmpty else { return nil }
        self.bounds = bounds
    }

    /// Whether `value` is one of the digits (binary search over `bounds`, `count` of them).
    @inline(__always)
    static func contains(_ value: UInt32, _ bounds: UnsafePointer<UInt32>, _ count: Int) -> Bool {
        var low = 0
        var high = count / 2
        while low < high {
            let middle = (low + high) / 2
            if value > bounds[2 * middle + 1] {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < count / 2 && value >= bounds[2 * low]
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        bounds.withUnsafeBufferPointer { Self.contains(scalar.value, $0.baseAddress!, $0.count) }
    }
}
