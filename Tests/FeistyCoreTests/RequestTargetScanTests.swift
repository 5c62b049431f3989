import Testing

@testable import FeistyCore

/// The target scan's eight-bytes-at-a-time test (`RequestTarget.hasByteNeedingALook`) against the byte rule it
/// stands for: every byte value, at every position of the word, among ordinary path bytes.
@Suite struct RequestTargetScanTests {
    /// The byte loop's rule: a byte below `&`, `?` or DEL needs a second look.
    static func needsALook(_ byte: UInt8) -> Bool {
        byte <= UInt8(ascii: "%") || byte == UInt8(ascii: "?") || byte == 0x7F
    }

    @Test(arguments: 0..<8)
    func everyByteAtEveryPosition(position: Int) {
        for filler in [UInt8(ascii: "a"), UInt8(ascii: "/"), 0xC3, 0x26, 0x7E, 0x80, 0xFF] {
            for value in 0...255 {
                var bytes = [UInt8](repeating: filler, count: 8)
                bytes[position] = UInt8(value)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let expected = bytes.contains(where: Self.needsALook)
                #expect(
                    RequestTarget.hasByteNeedingALook(word) == expected,
                    "byte \(value) at \(position) among \(filler)"
                )
            }
        }
    }

    /// Whole targets: the special byte found at any offset, across word boundaries, as the byte loop finds it.
    @Test(arguments: ["%", "?", "#", " ", "\u{7F}", "\u{0}", "\t"])
    func specialByteAnywhere(special: String) {
        for length in 1..<40 {
            for at in 1..<length {
                var target = Array(repeating: UInt8(ascii: "x"), count: length)
                target[0] = UInt8(ascii: "/")
                target[at] = Array(special.utf8)[0]
                let fast = target.withUnsafeBufferPointer { RequestTarget.fastPath($0) }
                switch special {
                case "?": #expect(fast?.path == 0..<at && fast?.query == (at + 1)..<length, "\(target)")
                case "#": #expect(fast?.path == 0..<at && fast?.query == 0..<0, "\(target)")
                default: #expect(fast == nil, "\(special.debugDescription) at \(at) of \(length)")
                }
            }
        }
    }
}
