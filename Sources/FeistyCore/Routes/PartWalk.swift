/// The native backtracking walk over a part's ops (`re.match(content)` for built-in converters).
///
/// It reads the program's buffers through raw pointers, so a walk never touches a reference count;
/// the pattern owning them outlives the walk (the state machine keeps it alive).
///
/// Work is bounded. Backtracking alone is quadratic when a lazy `path` (`[^/].*?`) or a greedy `string` follows
/// another variable op: every candidate of the earlier op restarts its scan, and each scan tries every cursor to the
/// end (`//<path:a>.txt/item/<int:b>/<path:c>.txt//edit` on a long target). The pattern has no back-references, so
/// whether the ops after index `k` match at a cursor is the same every time it is asked: once a scan has failed at
/// every candidate up to its stop (a newline or the end; for a `string`, a `/`), a later scan that reaches that range
/// fails at once (`DeadRanges`). That memo is allocated only after `memoAfterSteps` steps, so an ordinary target
/// never pays for it; and every candidate spends one unit of `remaining`, which stops the walk when the caller's
/// budget runs out (the gate then forwards the request).
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
    /// Steps the walk may still take (`spent`); below zero the walk has given up and its answer is void.
    var remaining: Int
    /// The steps at which `remaining` started, to count the steps taken.
    let budget: Int
    /// Per op index, the cursors at which the ops after it are known to fail (allocated lazily, freed by `finish`).
    var dead: DeadRanges?
    /// The last newline in `start..<end` (`start - 1`: none; `Int.min`: not looked for yet): a `path` that is the
    /// last op matches from a cursor only if no newline follows it.
    var lastNewline = Int.min
    /// The last `/` in `start..<end`, the same way: a `string` that is the last op matches only if none follows.
    var lastSlash = Int.min

    /// Steps after which a failed `path` scan is remembered: more than an ordinary target ever takes.
    static var memoAfterSteps: Int { 256 }

    @inline(__always)
    init(
        program: PartProgram,
        buffer: UnsafeBufferPointer<UInt8>,
        start: Int,
        end: Int,
        captures: UnsafeMutablePointer<Int>,
        offsetTag: Int,
        budget: Int
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
        remaining = budget
        self.budget = budget
    }

    /// Takes one step (one candidate of a quantifier tried with the ops after it); whether the budget is spent.
    /// Only the candidate loops count: every other op does constant work per candidate that reaches it, and the
    /// one-op part (`fullMatch`, the common case) is a single linear scan.
    @inline(__always)
    private mutating func spent() -> Bool {
        remaining -= 1
        return remaining < 0
    }

    /// The steps taken so far.
    var steps: Int { budget - remaining }

    /// Frees the memo, if the walk made one.
    mutating func finish() {
        dead?.deallocate()
        dead = nil
    }

    @inline(__always)
    private func digitEnd(_ cursor: Int) -> Int? {
        UTF8Scan.digitEnd(buffer, cursor, end, digits: digits, count: digitCount)
    }

    @inline(__always)
    func record(_ group: Int, _ from: Int, _ to: Int) {
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
            if spent() { return false }
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
            // `[^/]+` (or `*`): a start whose candidates all failed before fails again (`DeadRanges`, by start).
            let memoable = op.maxLength == Int.max && op.minLength <= 1
            var deadLow = -1
            var deadStop = -1
            if memoable, let dead {
                if dead.contains(index, position) { return false }
                (deadLow, deadStop) = dead.range(index)
            }
            var count = 0
            var cursor = position
            if deadLow >= 0 {
                while cursor < end, buffer[cursor] != UInt8(ascii: "/"), cursor != deadLow {
                    cursor += UTF8Scan.width(buffer[cursor])
                    count += 1
                }
            } else {
                while cursor < end, buffer[cursor] != UInt8(ascii: "/"), count < op.maxLength {
                    cursor += UTF8Scan.width(buffer[cursor])
                    count += 1
                }
            }
            // Stopped at `deadLow`: a start after this one failed at every candidate from there on; only the ones
            // before are new.
            if giveBack(index, from: position, to: cursor, count: count, minimum: op.minLength, group: group) {
                return true
            }
            if memoable { remember(index, from: position, to: cursor == deadLow ? deadStop : cursor) }
            return false
        case .path:
            guard position < end, buffer[position] != UInt8(ascii: "/") else { return false }
            let first = position + UTF8Scan.width(buffer[position])
            var cursor = first
            while true {
                // Every cursor from here to the stop (the same newline or the end) already failed.
                if let dead, dead.contains(index, cursor) {
                    if remaining >= 0 { dead.extend(index, from: first) }
                    return false
                }
                if spent() { return false }
                if run(index + 1, cursor, group: group + 1) {
                    record(group, position, cursor)
                    return true
                }
                guard cursor < end, buffer[cursor] != UInt8(ascii: "\n") else {
                    remember(index, from: first, to: cursor)
                    return false
                }
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

    /// Records that op `index` fails in `from...to` (`to`: where its scan stops), once the walk has taken enough steps
    /// to be worth a memo, and only while its answers count (not after giving up).
    private mutating func remember(_ index: Int, from: Int, to: Int) {
        guard remaining >= 0 else { return }
        if dead == nil {
            guard steps > Self.memoAfterSteps else { return }
            dead = DeadRanges(opCount: ops.count)
        }
        dead!.set(index, from: from, to: to)
    }

    /// Whether no newline lies in `from..<end`.
    @inline(__always)
    private mutating func noNewline(from: Int) -> Bool {
        if lastNewline == Int.min { lastNewline = last(UInt8(ascii: "\n")) }
        return lastNewline < from
    }

    /// Whether no `/` lies in `from..<end`.
    @inline(__always)
    private mutating func noSlash(from: Int) -> Bool {
        if lastSlash == Int.min { lastSlash = last(UInt8(ascii: "/")) }
        return lastSlash < from
    }

    /// The position of the last `byte` in `start..<end`, or `start - 1`.
    private func last(_ byte: UInt8) -> Int {
        var cursor = end - 1
        while cursor >= start, buffer[cursor] != byte { cursor -= 1 }
        return cursor
    }

    /// Whether the converter's regex matches all of `buffer[from..<end]`.
    @inline(__always)
    mutating func fullMatch(_ op: PartOp, _ from: Int) -> Bool {
        switch op.kind {
        case .string:
            // Found once per walk, as for `path`; then only as many characters are counted as the bounds need.
            guard noSlash(from: from) else { return false }
            let unbounded = op.maxLength == Int.max
            let limit = unbounded ? op.minLength : op.maxLength + 1
            var count = 0
            var cursor = from
            while cursor < end, count < limit {
                cursor += UTF8Scan.width(buffer[cursor])
                count += 1
            }
            return count >= op.minLength && (unbounded || cursor == end && count <= op.maxLength)
        case .path:
            guard from < end, buffer[from] != UInt8(ascii: "/") else { return false }
            // Found once per walk: a lazy `path` before this one asks again at every cursor.
            return noNewline(from: from + UTF8Scan.width(buffer[from]))
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
