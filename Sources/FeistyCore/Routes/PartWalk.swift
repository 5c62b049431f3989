/// The native backtracking walk over a part's ops (`re.match(content)` for built-in converters).
///
/// It reads the program's buffers through raw pointers, so a walk never touches a reference count;
/// the pattern owning them outlives the walk (the state machine keeps it alive).
struct PartWalk {
    let ops: UnsafeMutableBufferPointer<PartOp>
    let bytes: UnsafeMutablePointer<UInt8>
    let alternatives: UnsafeMutablePointer<PartBytes>
    let slots: UnsafeMutablePointer<Int>
    let buffer: UnsafeBufferPointer<UInt8>
    let start: Int
    let end: Int
    let captures: UnsafeMutablePointer<Int>
    let offsetTag: Int
    /// The app's `\d` bounds (`digitCount` of them; none: Swift's table).
    let digits: UnsafeMutablePointer<UInt32>?
    let digitCount: Int
    var suffixSlash = false

    @inline(__always)
    init(
        program: PartProgram,
        buffer: UnsafeBufferPointer<UInt8>,
        start: Int,
        end: Int,
        captures: UnsafeMutablePointer<Int>,
        offsetTag: Int
    ) {
        ops = program.ops
        bytes = program.bytes.baseAddress!
        alternatives = program.alternatives.baseAddress!
        slots = program.slotOfGroup.baseAddress!
        self.buffer = buffer
        self.start = start
        self.end = end
        self.captures = captures
        self.offsetTag = offsetTag
        digits = program.digits.baseAddress
        digitCount = program.digits.count
    }

    @inline(__always)
    private func digitEnd(_ cursor: Int) -> Int? {
        UTF8Scan.digitEnd(buffer, cursor, end, digits: digits, count: digitCount)
    }

    @inline(__always)
    private func record(_ group: Int, _ from: Int, _ to: Int) {
        let slot = slots[group]
        captures[2 * slot] = offsetTag + from
        captures[2 * slot + 1] = offsetTag + to
    }

    @inline(__always)
    private func equals(_ position: Int, _ literalStart: Int, _ count: Int) -> Bool {
        guard end - position >= count else { return false }
        var offset = 0
        while offset < count {
            if buffer[position + offset] != bytes[literalStart + offset] { return false }
            offset += 1
        }
        return true
    }

    /// Matches ops `index...` at `position`, then `\Z`.
    mutating func run(_ index: Int, _ position: Int, group: Int) -> Bool {
        if index == ops.count { return position == end }
        let op = ops[index]
        switch op.kind {
        case .literal:
            guard equals(position, op.start, op.count) else { return false }
            return run(index + 1, position + op.count, group: group)
        case .suffix:
            if position > start, buffer[position - 1] == UInt8(ascii: "/") { return false }
            if position < end, buffer[position] == UInt8(ascii: "/") {
                if run(index + 1, position + 1, group: group) {
                    suffixSlash = true
                    return true
                }
            }
            if run(index + 1, position, group: group) {
                suffixSlash = false
                return true
            }
            return false
        default:
            if index == ops.count - 1 {
                // Only a candidate ending at `end` can satisfy the `\Z` that follows: the common
                // one-converter part (`<int:id>`) is a single full-match scan.
                guard fullMatch(op, position) else { return false }
                record(group, position, end)
                return true
            }
            return runCapture(op, index, position, group: group)
        }
    }

    /// The longest run of decimal digits (Python's `\d`: any Unicode `Nd`) starting at `cursor`.
    private func digitRun(from cursor: Int) -> (end: Int, count: Int) {
        var cursor = cursor
        var count = 0
        while let next = digitEnd(cursor) {
            cursor = next
            count += 1
        }
        return (cursor, count)
    }

    /// A greedy quantifier's backtracking, as Python's `re` does it: the capture `position..<stop` (`count`
    /// characters) is tried with the rest of the ops first, then gives back one character at a time while at least
    /// `minimum` remain.
    private mutating func giveBack(
        _ index: Int,
        from position: Int,
        to stop: Int,
        count: Int,
        minimum: Int,
        group: Int
    ) -> Bool {
        var cursor = stop
        var count = count
        while count >= minimum {
            if run(index + 1, cursor, group: group + 1) {
                record(group, position, cursor)
                return true
            }
            if count == 0 { return false }
            cursor = UTF8Scan.previous(buffer, cursor)
            count -= 1
        }
        return false
    }

    /// Tries the converter's candidates in the regex's order, each followed by the rest of the ops.
    private mutating func runCapture(_ op: PartOp, _ index: Int, _ position: Int, group: Int) -> Bool {
        switch op.kind {
        case .string:
            var count = 0
            var cursor = position
            while cursor < end, buffer[cursor] != UInt8(ascii: "/"), count < op.maxLength {
                cursor += UTF8Scan.width(buffer[cursor])
                count += 1
            }
            return giveBack(index, from: position, to: cursor, count: count, minimum: op.minLength, group: group)
        case .path:
            guard position < end, buffer[position] != UInt8(ascii: "/") else { return false }
            var cursor = position + UTF8Scan.width(buffer[position])
            while true {
                if run(index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                guard cursor < end, buffer[cursor] != UInt8(ascii: "\n") else { return false }
                cursor += UTF8Scan.width(buffer[cursor])
            }
        case .any:
            for alternative in op.start..<(op.start + op.count) {
                let item = alternatives[alternative]
                if equals(position, item.start, item.count), run(index + 1, position + item.count, group: group + 1) {
                    record(group, position, position + item.count)
                    return true
                }
            }
            return false
        case .int:
            var cursor = position
            if op.signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            let digits = digitRun(from: cursor)
            return giveBack(index, from: position, to: digits.end, count: digits.count, minimum: 1, group: group)
        case .float:
            var cursor = position
            if op.signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            let integral = digitRun(from: cursor)
            // Only the longest integral run can be followed by `.` (a digit is never a dot).
            guard integral.count >= 1, integral.end < end, buffer[integral.end] == UInt8(ascii: ".") else {
                return false
            }
            let fraction = digitRun(from: integral.end + 1)
            return giveBack(index, from: position, to: fraction.end, count: fraction.count, minimum: 1, group: group)
        case .uuid:
            guard UTF8Scan.isUUID(buffer, position, end) else { return false }
            guard run(index + 1, position + 36, group: group + 1) else { return false }
            record(group, position, position + 36)
            return true
        case .literal, .suffix, .custom:
            return false
        }
    }

    /// Whether the converter's regex matches all of `buffer[from..<end]`.
    private func fullMatch(_ op: PartOp, _ from: Int) -> Bool {
        switch op.kind {
        case .string:
            var count = 0
            var cursor = from
            while cursor < end {
                if buffer[cursor] == UInt8(ascii: "/") { return false }
                cursor += UTF8Scan.width(buffer[cursor])
                count += 1
            }
            return count >= op.minLength && count <= op.maxLength
        case .path:
            guard from < end, buffer[from] != UInt8(ascii: "/") else { return false }
            var cursor = from + UTF8Scan.width(buffer[from])
            while cursor < end {
                if buffer[cursor] == UInt8(ascii: "\n") { return false }
                cursor += 1
            }
            return true
        case .any:
            for alternative in op.start..<(op.start + op.count) {
                let item = alternatives[alternative]
                if item.count == end - from, equals(from, item.start, item.count) { return true }
            }
            return false
        case .int:
            var cursor = from
            if op.signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            guard cursor < end else { return false }
            while cursor < end {
                guard let next = digitEnd(cursor) else { return false }
                cursor = next
            }
            return true
        case .float:
            var cursor = from
            if op.signed, cursor < end, buffer[cursor] == UInt8(ascii: "-") { cursor += 1 }
            var integral = 0
            while let next = digitEnd(cursor) {
                cursor = next
                integral += 1
            }
            guard integral > 0, cursor < end, buffer[cursor] == UInt8(ascii: ".") else { return false }
            cursor += 1
            guard cursor < end else { return false }
            while cursor < end {
                guard let next = digitEnd(cursor) else { return false }
                cursor = next
            }
            return true
        case .uuid:
            return end - from == 36 && UTF8Scan.isUUID(buffer, from, end)
        case .literal, .suffix, .custom:
            return false
        }
    }
}
