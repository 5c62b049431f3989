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
                (lead & 0x0F) << 12 | UInt32(buffer[position + 1] & 0x3F) << 6 | UInt32(buffer[position + 2] & 0x3F)
            )
                ?? "\u{FFFD}"
        default:
            return Unicode.Scalar(
                (lead & 0x07) << 18 | UInt32(buffer[position + 1] & 0x3F) << 12
                    | UInt32(buffer[position + 2] & 0x3F) << 6 | UInt32(buffer[position + 3] & 0x3F)
            ) ?? "\u{FFFD}"
        }
    }

    /// The end of the Unicode decimal digit (`\d`) at `position`, if there is one: one of the app's digits
    /// (`digits`, `count` bounds of `PythonDigits`), or Swift's table's when there are none.
    @inline(__always)
    static func digitEnd(
        _ buffer: UnsafeBufferPointer<UInt8>,
        _ position: Int,
        _ end: Int,
        digits: UnsafeMutablePointer<UInt32>? = nil,
        count: Int = 0
    ) -> Int? {
        guard position < end else { return nil }
        let byte = buffer[position]
        if byte < 0x80 { return byte &- 0x30 < 10 ? position + 1 : nil }
        return nonASCIIDigitEnd(buffer, position, digits: digits, count: count)
    }

    /// `digitEnd` for a non-ASCII scalar, kept out of line so the ASCII test inlines into the loops.
    @inline(never)
    static func nonASCIIDigitEnd(
        _ buffer: UnsafeBufferPointer<UInt8>,
        _ position: Int,
        digits: UnsafeMutablePointer<UInt32>?,
        count: Int
    ) -> Int? {
        let value = scalar(buffer, position)
        let isDigit =
            if let digits, count > 0 {
                PythonDigits.contains(value.value, digits, count)
            } else {
                PythonNumber.decimalValue(value) != nil
            }
        return isDigit ? position + width(buffer[position]) : nil
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
}
