import Foundation

/// One element of a dynamic `RulePart`'s regex: `re.escape`d text, a converter group, or the
/// `(?<!/)(/?)` suffix Werkzeug adds to a final part ending in `/`.
enum PartElement: Sendable {
    case literal([UInt8])
    case capture(ConverterBehaviour)
    case suffix
}

/// Matches one dynamic `RulePart` against a UTF-8 target exactly as Python's `re.match(content)` does.
///
/// Built-in converters run natively: a backtracking walk over the elements whose candidate order is the
/// regex's (greedy `+`/`{m,n}` longest first, lazy `.*?` shortest first, alternatives in order). This
/// gives the same first match as `re` because every element is a simple regex that only backtracks
/// over its own repetition. A part with a custom converter is matched with the part's whole regex
/// translated to ICU (`NSRegularExpression`): ICU is a backtracking engine with Python's alternation and
/// quantifier order, works on code points, and exists on Linux, while Swift `Regex` defaults to
/// grapheme-cluster semantics and is much slower.
final class PartPattern: @unchecked Sendable {
    // @unchecked: immutable after `init` (the buffers are freed in `deinit` only), and
    // `NSRegularExpression` is documented thread-safe for matching.
    let elements: UnsafeMutableBufferPointer<PartElement>
    /// Stack slot (0-based, within this part) of each converter group, in group order: Werkzeug pushes
    /// the groups sorted by their *name* (`__werkzeug_10` before `__werkzeug_2`).
    let slotOfGroup: UnsafeMutableBufferPointer<Int>
    let captureCount: Int
    let icu: ICUPart?

    struct ICUPart {
        let regex: NSRegularExpression
        /// ICU group number of `__werkzeug_0`, `__werkzeug_1`, ...
        let werkzeugGroups: [Int]
        let hasSuffixGroup: Bool
    }

    deinit {
        elements.deinitialize()
        elements.deallocate()
        slotOfGroup.deallocate()
    }

    init(elements: [PartElement], content: String, hasCustom: Bool, rule: String, variable: String) throws(RouteError) {
        let elementBuffer = UnsafeMutableBufferPointer<PartElement>.allocate(capacity: max(1, elements.count))
        _ = elementBuffer.initialize(from: elements)
        self.elements = UnsafeMutableBufferPointer(rebasing: elementBuffer[0..<elements.count])
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
        let slotBuffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, groupCount))
        _ = slotBuffer.initialize(from: slots)
        self.slotOfGroup = slotBuffer
        self.captureCount = groupCount
        if hasCustom {
            guard let translated = PythonRegexTranslation.translate(content),
                let regex = try? NSRegularExpression(pattern: translated.pattern)
            else {
                throw .unsupportedConverterRegex(rule: rule, variable: variable, regex: content)
            }
            icu = ICUPart(regex: regex, werkzeugGroups: translated.werkzeugGroups, hasSuffixGroup: hasSuffix)
        } else {
            icu = nil
        }
    }

    /// Matches `buffer[start..<end]`; on success writes each group's byte range into
    /// `captures[2*slot]`, `captures[2*slot+1]` (offsets in `buffer`, plus `offsetTag`).
    /// - Returns: `nil` when there is no match, else whether the suffix group matched `/`.
    func match(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, captures: UnsafeMutablePointer<Int>,
        offsetTag: Int
    ) -> Bool? {
        if let icu { return matchICU(icu, buffer, from: start, to: end, captures: captures, offsetTag: offsetTag) }
        var walk = NativeWalk(
            buffer: buffer, start: start, end: end, captures: captures, offsetTag: offsetTag, slots: slotOfGroup)
        return walk.run(UnsafeBufferPointer(elements), 0, start, group: 0) ? walk.suffixSlash : nil
    }

    private func matchICU(
        _ icu: ICUPart, _ buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
        captures: UnsafeMutablePointer<Int>, offsetTag: Int
    ) -> Bool? {
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
        let utf16Count = text.utf16.count
        guard
            let result = icu.regex.firstMatch(
                in: text, options: [.anchored, .withoutAnchoringBounds],
                range: NSRange(location: 0, length: utf16Count))
        else { return nil }
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
            let slot = slotOfGroup[group]
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

/// The native backtracking walk over a part's elements.
private struct NativeWalk {
    let buffer: UnsafeBufferPointer<UInt8>
    let start: Int
    let end: Int
    let captures: UnsafeMutablePointer<Int>
    let offsetTag: Int
    let slots: UnsafeMutableBufferPointer<Int>
    var suffixSlash = false

    init(
        buffer: UnsafeBufferPointer<UInt8>, start: Int, end: Int, captures: UnsafeMutablePointer<Int>, offsetTag: Int,
        slots: UnsafeMutableBufferPointer<Int>
    ) {
        self.buffer = buffer
        self.start = start
        self.end = end
        self.captures = captures
        self.offsetTag = offsetTag
        self.slots = slots
    }

    @inline(__always)
    private func record(_ group: Int, _ from: Int, _ to: Int) {
        let slot = slots[group]
        captures[2 * slot] = offsetTag + from
        captures[2 * slot + 1] = offsetTag + to
    }

    /// Matches elements `index...` at `position`, then `\Z`.
    mutating func run(_ elements: UnsafeBufferPointer<PartElement>, _ index: Int, _ position: Int, group: Int) -> Bool {
        if index == elements.count { return position == end }
        let isLast = index == elements.count - 1
        switch elements[index] {
        case .literal(let bytes):
            guard end - position >= bytes.count else { return false }
            for offset in 0..<bytes.count where buffer[position + offset] != bytes[offset] { return false }
            return run(elements, index + 1, position + bytes.count, group: group)
        case .suffix:
            if position > start, buffer[position - 1] == UInt8(ascii: "/") { return false }
            if position < end, buffer[position] == UInt8(ascii: "/") {
                if run(elements, index + 1, position + 1, group: group) {
                    suffixSlash = true
                    return true
                }
            }
            if run(elements, index + 1, position, group: group) {
                suffixSlash = false
                return true
            }
            return false
        case .capture(let behaviour):
            if isLast {
                // Only a candidate ending at `end` can satisfy the `\Z` that follows.
                guard UTF8Scan.fullMatch(behaviour, buffer, position, end) else { return false }
                record(group, position, end)
                return true
            }
            return runCapture(behaviour, elements, index, position, group: group)
        }
    }

    private mutating func runCapture(
        _ behaviour: ConverterBehaviour, _ elements: UnsafeBufferPointer<PartElement>, _ index: Int, _ position: Int,
        group: Int
    ) -> Bool {
        switch behaviour {
        case .string(let minLength, let maxLength):
            var count = 0
            var cursor = position
            while cursor < end, buffer[cursor] != UInt8(ascii: "/"), maxLength.map({ count < $0 }) ?? true {
                cursor += UTF8Scan.width(buffer[cursor])
                count += 1
            }
            while count >= minLength {
                if run(elements, index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                if count == 0 { break }
                cursor = UTF8Scan.previous(buffer, cursor)
                count -= 1
            }
            return false
        case .path:
            guard position < end, buffer[position] != UInt8(ascii: "/") else { return false }
            var cursor = position + UTF8Scan.width(buffer[position])
            while true {
                if run(elements, index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                guard cursor < end, buffer[cursor] != UInt8(ascii: "\n") else { return false }
                cursor += UTF8Scan.width(buffer[cursor])
            }
        case .any(let alternatives, _):
            for alternative in alternatives where end - position >= alternative.count {
                var equal = true
                for offset in 0..<alternative.count where buffer[position + offset] != alternative[offset] {
                    equal = false
                    break
                }
                if equal, run(elements, index + 1, position + alternative.count, group: group + 1) {
                    record(group, position, position + alternative.count)
                    return true
                }
            }
            return false
        case .int(_, _, _, let signed):
            var cursor = position
            if signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            let digitsStart = cursor
            var count = 0
            while let next = UTF8Scan.digitEnd(buffer, cursor, end) {
                cursor = next
                count += 1
            }
            while count >= 1 {
                if run(elements, index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                cursor = UTF8Scan.previous(buffer, cursor)
                count -= 1
            }
            _ = digitsStart
            return false
        case .float(_, _, let signed):
            var cursor = position
            if signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            var count = 0
            while let next = UTF8Scan.digitEnd(buffer, cursor, end) {
                cursor = next
                count += 1
            }
            // Only the longest integral run can be followed by `.` (a digit is never a dot).
            guard count >= 1, cursor < end, buffer[cursor] == UInt8(ascii: ".") else { return false }
            cursor += 1
            count = 0
            while let next = UTF8Scan.digitEnd(buffer, cursor, end) {
                cursor = next
                count += 1
            }
            while count >= 1 {
                if run(elements, index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                cursor = UTF8Scan.previous(buffer, cursor)
                count -= 1
            }
            return false
        case .uuid:
            guard UTF8Scan.isUUID(buffer, position, end) else { return false }
            guard run(elements, index + 1, position + 36, group: group + 1) else { return false }
            record(group, position, position + 36)
            return true
        case .custom:
            return false
        }
    }
}

/// Byte-level helpers over valid UTF-8 (the router's input is always repaired UTF-8).
enum UTF8Scan {
    @inline(__always)
    static func width(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    @inline(__always)
    static func previous(_ buffer: UnsafeBufferPointer<UInt8>, _ position: Int) -> Int {
        var cursor = position - 1
        while cursor > 0, buffer[cursor] & 0xC0 == 0x80 { cursor -= 1 }
        return cursor
    }

    @inline(__always)
    static func scalar(_ buffer: UnsafeBufferPointer<UInt8>, _ position: Int) -> Unicode.Scalar {
        let lead = UInt32(buffer[position])
        switch width(buffer[position]) {
        case 1: return Unicode.Scalar(lead)!
        case 2: return Unicode.Scalar((lead & 0x1F) << 6 | UInt32(buffer[position + 1] & 0x3F)) ?? "\u{FFFD}"
        case 3:
            return Unicode.Scalar(
                (lead & 0x0F) << 12 | UInt32(buffer[position + 1] & 0x3F) << 6 | UInt32(buffer[position + 2] & 0x3F))
                ?? "\u{FFFD}"
        default:
            return Unicode.Scalar(
                (lead & 0x07) << 18 | UInt32(buffer[position + 1] & 0x3F) << 12
                    | UInt32(buffer[position + 2] & 0x3F) << 6 | UInt32(buffer[position + 3] & 0x3F)) ?? "\u{FFFD}"
        }
    }

    /// The end of the Unicode decimal digit (`\d`) at `position`, if there is one.
    @inline(__always)
    static func digitEnd(_ buffer: UnsafeBufferPointer<UInt8>, _ position: Int, _ end: Int) -> Int? {
        guard position < end else { return nil }
        let byte = buffer[position]
        if byte < 0x80 { return byte >= 0x30 && byte <= 0x39 ? position + 1 : nil }
        return PythonNumber.decimalValue(scalar(buffer, position)) != nil ? position + width(byte) : nil
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
    }

    static func isUUID(_ buffer: UnsafeBufferPointer<UInt8>, _ position: Int, _ end: Int) -> Bool {
        guard end - position >= 36 else { return false }
        for offset in 0..<36 {
            let byte = buffer[position + offset]
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                if byte != UInt8(ascii: "-") { return false }
            } else if !isHex(byte) {
                return false
            }
        }
        return true
    }

    /// Whether the converter's regex matches all of `buffer[start..<end]`.
    static func fullMatch(_ behaviour: ConverterBehaviour, _ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> Bool
    {
        switch behaviour {
        case .string(let minLength, let maxLength):
            var count = 0
            var cursor = start
            while cursor < end {
                if buffer[cursor] == UInt8(ascii: "/") { return false }
                cursor += width(buffer[cursor])
                count += 1
            }
            return count >= minLength && (maxLength.map { count <= $0 } ?? true)
        case .path:
            guard start < end, buffer[start] != UInt8(ascii: "/") else { return false }
            var cursor = start + width(buffer[start])
            while cursor < end {
                if buffer[cursor] == UInt8(ascii: "\n") { return false }
                cursor += 1
            }
            return true
        case .any(let alternatives, _):
            for alternative in alternatives where alternative.count == end - start {
                var equal = true
                for offset in 0..<alternative.count where buffer[start + offset] != alternative[offset] {
                    equal = false
                    break
                }
                if equal { return true }
            }
            return false
        case .int(_, _, _, let signed):
            var cursor = start
            if signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            guard cursor < end else { return false }
            while cursor < end {
                guard let next = digitEnd(buffer, cursor, end) else { return false }
                cursor = next
            }
            return true
        case .float(_, _, let signed):
            var cursor = start
            if signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            var integral = 0
            while let next = digitEnd(buffer, cursor, end) {
                cursor = next
                integral += 1
            }
            guard integral > 0, cursor < end, buffer[cursor] == UInt8(ascii: ".") else { return false }
            cursor += 1
            guard cursor < end else { return false }
            while cursor < end {
                guard let next = digitEnd(buffer, cursor, end) else { return false }
                cursor = next
            }
            return true
        case .uuid:
            return end - start == 36 && isUUID(buffer, start, end)
        case .custom:
            return false
        }
    }
}
