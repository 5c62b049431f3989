import Foundation

/// One element of a dynamic `RulePart`'s regex: `re.escape`d text, a converter group, or the
/// `(?<!/)(/?)` suffix Werkzeug adds to a final part ending in `/`.
enum PartElement: Sendable {
    case literal([UInt8])
    case capture(ConverterBehaviour)
    case suffix
}

/// A `PartElement` flattened into plain data for the walk.
///
/// `PartElement` carries arrays (literal bytes, `any` alternatives, converter arguments), so reading one
/// out of a buffer retains and releases them; this copy holds only integers, with its bytes in the
/// pattern's shared byte pool, so the walk does no reference counting at all.
struct PartOp {
    enum Kind: UInt8 {
        case literal, suffix, string, path, any, int, float, uuid, custom
    }

    var kind: Kind
    /// `int`/`float`: whether a leading `-` is allowed.
    var signed = false
    /// `literal`: the byte range in `PartPattern.bytes`; `any`: the range in `PartPattern.alternatives`.
    var start = 0
    var count = 0
    /// `string`: the length bounds in code points (`Int.max`: unbounded).
    var minLength = 0
    var maxLength = Int.max
}

/// A byte range in `PartPattern.bytes` (one `any` alternative).
struct PartBytes {
    var start: Int
    var count: Int
}

/// A part's native matcher as plain pointers: what `PartWalk` reads. `PartPattern` owns the buffers;
/// a copy is only valid while its pattern is alive.
struct PartProgram {
    let ops: UnsafeMutableBufferPointer<PartOp>
    /// Literal bytes and `any` alternatives of every op.
    let bytes: UnsafeMutableBufferPointer<UInt8>
    let alternatives: UnsafeMutableBufferPointer<PartBytes>
    /// Stack slot (0-based, within this part) of each converter group, in group order: Werkzeug pushes
    /// the groups sorted by their *name* (`__werkzeug_10` before `__werkzeug_2`).
    let slotOfGroup: UnsafeMutableBufferPointer<Int>
    /// Whether the part has a custom converter, so `PartPattern.matchICU` decides it instead.
    let usesICU: Bool
    /// The app's `\d` (`PythonDigits.bounds`); empty: Swift's Unicode table decides.
    let digits: UnsafeMutableBufferPointer<UInt32>

    /// Matches `buffer[start..<end]` natively; on success writes each group's byte range into
    /// `captures[2*slot]`, `captures[2*slot+1]` (offsets in `buffer`, plus `offsetTag`).
    /// - Parameter work: The steps the caller may still spend; the walk's steps are taken from it. Below zero
    ///   afterwards: the walk gave up, and the answer means nothing.
    /// - Returns: `nil` when there is no match, else whether the suffix group matched `/`.
    @inline(__always)
    func matchNative(
        _ buffer: UnsafeBufferPointer<UInt8>,
        from start: Int,
        to end: Int,
        captures: UnsafeMutablePointer<Int>,
        offsetTag: Int,
        work: inout Int
    ) -> Bool? {
        var walk = PartWalk(
            program: self,
            buffer: buffer,
            start: start,
            end: end,
            captures: captures,
            offsetTag: offsetTag,
            budget: work
        )
        // The common part, one converter (`<int:id>`): a single full-match scan, no candidates, no steps.
        if ops.count == 1 {
            guard walk.fullMatch(ops[0], start) else { return nil }
            walk.record(0, start, end)
            return false
        }
        let matched = walk.run(0, start, group: 0)
        work = walk.remaining
        if walk.dead != nil { walk.finish() }
        return matched ? walk.suffixSlash : nil
    }
}

/// Matches one dynamic `RulePart` against a UTF-8 target exactly as Python's `re.match(content)` does.
///
/// Built-in converters run natively (`PartWalk`): a backtracking walk over the elements whose candidate
/// order is the regex's (greedy `+`/`{m,n}` longest first, lazy `.*?` shortest first, alternatives in
/// order). This gives the same first match as `re` because every element is a simple regex that only
/// backtracks over its own repetition. A part with a custom converter is matched with the part's whole
/// regex translated to ICU (`NSRegularExpression`): ICU is a backtracking engine with Python's
/// alternation and quantifier order, works on code points, and exists on Linux, while Swift `Regex`
/// defaults to grapheme-cluster semantics and is much slower.
final class PartPattern: @unchecked Sendable {
    // @unchecked: immutable after `init` (the buffers are freed in `deinit` only), and
    // `NSRegularExpression` is documented thread-safe for matching.
    let program: PartProgram
    let captureCount: Int
    let icu: ICUPart?

    final class ICUPart: Sendable {
        let regex: NSRegularExpression
        /// ICU group number of `__werkzeug_0`, `__werkzeug_1`, ...
        let werkzeugGroups: [Int]
        let hasSuffixGroup: Bool

        init(regex: NSRegularExpression, werkzeugGroups: [Int], hasSuffixGroup: Bool) {
            self.regex = regex
            self.werkzeugGroups = werkzeugGroups
            self.hasSuffixGroup = hasSuffixGroup
        }
    }

    deinit {
        program.ops.deallocate()
        program.bytes.deallocate()
        program.alternatives.deallocate()
        program.slotOfGroup.deallocate()
        program.digits.deallocate()
    }

    init(
        elements: [PartElement],
        content: String,
        hasCustom: Bool,
        rule: String,
        variable: String,
        digits: PythonDigits? = nil
    ) throws(RouteError) {
        var opList: [PartOp] = []
        var byteList: [UInt8] = []
        var alternativeList: [PartBytes] = []
        for element in elements {
            switch element {
            case .literal(let literal):
                opList.append(PartOp(kind: .literal, start: byteList.count, count: literal.count))
                byteList.append(contentsOf: literal)
            case .suffix:
                opList.append(PartOp(kind: .suffix))
            case .capture(let behaviour):
                opList.append(Self.op(behaviour, bytes: &byteList, alternatives: &alternativeList))
            }
        }
        let groupCount = elements.reduce(0) { count, element in
            if case .capture = element { return count + 1 }
            return count
        }
        let names = (0..<groupCount).map { "__werkzeug_\($0)" }
        let sorted = names.indices.sorted { names[$0] < names[$1] }
        var slots = [Int](repeating: 0, count: groupCount)
        for (slot, group) in sorted.enumerated() { slots[group] = slot }
        let hasSuffix = elements.contains {
            if case .suffix = $0 { return true }
            return false
        }
        self.program = PartProgram(
            ops: Self.copy(opList),
            bytes: Self.copy(byteList),
            alternatives: Self.copy(alternativeList),
            slotOfGroup: Self.copy(slots),
            usesICU: hasCustom,
            digits: Self.copy(digits?.bounds ?? [])
        )
        self.captureCount = groupCount
        if hasCustom {
            guard let translated = PythonRegexTranslation.translate(content, digits: digits),
                let regex = try? NSRegularExpression(pattern: translated.pattern)
            else {
                throw .unsupportedConverterRegex(rule: rule, variable: variable, regex: content)
            }
            icu = ICUPart(regex: regex, werkzeugGroups: translated.werkzeugGroups, hasSuffixGroup: hasSuffix)
        } else {
            icu = nil
        }
    }

    private static func op(_ behaviour: ConverterBehaviour, bytes: inout [UInt8], alternatives: inout [PartBytes])
        -> PartOp
    {
        switch behaviour {
        case .string(let minLength, let maxLength):
            return PartOp(kind: .string, minLength: minLength, maxLength: maxLength ?? Int.max)
        case .path:
            return PartOp(kind: .path)
        case .any(let items, _):
            let op = PartOp(kind: .any, start: alternatives.count, count: items.count)
            for item in items {
                alternatives.append(PartBytes(start: bytes.count, count: item.count))
                bytes.append(contentsOf: item)
            }
            return op
        case .int(_, _, _, let signed):
            return PartOp(kind: .int, signed: signed)
        case .float(_, _, let signed):
            return PartOp(kind: .float, signed: signed)
        case .uuid:
            return PartOp(kind: .uuid)
        case .custom:
            return PartOp(kind: .custom)
        }
    }

    private static func copy<Element>(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return UnsafeMutableBufferPointer(rebasing: buffer[0..<array.count])
    }

    /// Matches `buffer[start..<end]` as `PartProgram.matchNative` does, natively or through ICU, spending `work`
    /// as it does.
    func match(
        _ buffer: UnsafeBufferPointer<UInt8>,
        from start: Int,
        to end: Int,
        captures: UnsafeMutablePointer<Int>,
        offsetTag: Int,
        work: inout Int
    ) -> Bool? {
        guard let icu else {
            return program.matchNative(
                buffer,
                from: start,
                to: end,
                captures: captures,
                offsetTag: offsetTag,
                work: &work
            )
        }
        return matchICU(icu, buffer, from: start, to: end, captures: captures, offsetTag: offsetTag, work: &work)
    }

    /// ICU's steps between two progress reports (`TIMER_INITIAL_VALUE` in ICU's `rematch.cpp`): what one report
    /// costs of a walk's `work`.
    static var icuStepsPerReport: Int { 10_000 }

    private func matchICU(
        _ icu: ICUPart,
        _ buffer: UnsafeBufferPointer<UInt8>,
        from start: Int,
        to end: Int,
        captures: UnsafeMutablePointer<Int>,
        offsetTag: Int,
        work: inout Int
    ) -> Bool? {
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
        let utf16Count = text.utf16.count
        let range = NSRange(location: 0, length: utf16Count)
        let found: NSTextCheckingResult?
        if work == Int.max {
            // No budget (`match`): the exact answer, however long ICU backtracks.
            found = icu.regex.firstMatch(in: text, options: [.anchored, .withoutAnchoringBounds], range: range)
        } else {
            // ICU calls back every `icuStepsPerReport` steps of a long match; the walk gives up when its budget is
            // spent (ICU's own backtracking is as quadratic as Python's on some converters, and cannot be memoised
            // from here).
            var first: NSTextCheckingResult?
            var left = work
            icu.regex.enumerateMatches(
                in: text,
                options: [.anchored, .withoutAnchoringBounds, .reportProgress],
                range: range
            ) { result, _, stop in
                if let result {
                    first = result
                    stop.pointee = true
                    return
                }
                left -= Self.icuStepsPerReport
                if left < 0 { stop.pointee = true }
            }
            work = first == nil ? left : max(left, 0)
            found = first
        }
        guard let result = found else { return nil }
        // UTF-16 offset -> UTF-8 offset, walking scalars once.
        var map: [Int: Int] = [:]
        var utf16 = 0
        var utf8 = 0
        for scalar in text.unicodeScalars {
            map[utf16] = utf8
            utf16 += UTF16.width(scalar)
            utf8 += UTF8.width(scalar)
        }
        map[utf16] = utf8
        for (group, number) in icu.werkzeugGroups.enumerated() {
            let range = result.range(at: number)
            let slot = program.slotOfGroup[group]
            if range.location == NSNotFound {
                captures[2 * slot] = offsetTag + start
                captures[2 * slot + 1] = offsetTag + start
            } else {
                captures[2 * slot] = offsetTag + start + (map[range.location] ?? 0)
                captures[2 * slot + 1] = offsetTag + start + (map[range.location + range.length] ?? 0)
            }
        }
        if icu.hasSuffixGroup {
            let range = result.range(at: result.numberOfRanges - 1)
            return range.location != NSNotFound && range.length == 1
        }
        return false
    }
}
