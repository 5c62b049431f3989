/// One `feisty match --batch` request line, read by a strict parser for the shape almost every line has.
///
/// `parse` accepts only ASCII lines holding one object whose members are the known keys, each at most once,
/// with values of the expected types: `id` an int of at most 18 digits, a string, `true`/`false` or `null`;
/// strings without `\u` escapes. Anything else (`nil`) goes to `JSONDecoder`, whose answer defines the
/// output, so both paths print the same bytes for every line they both accept (BatchMatchTests compares them).
/// The general decoder reads the same type (`Decodable`).
struct BatchRequestLine: Decodable {
    var id: JSONValue?
    var method: String
    var path: String
    var host: String?
    /// Whether the request is a WebSocket handshake.
    var websocket: Bool?

    /// The request in `line`, or `nil` when the line needs the general decoder.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> BatchRequestLine? {
        var reader = Reader(bytes: line)
        return reader.request()
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0
        /// Scratch for strings with escapes.
        var unescaped: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func request() -> BatchRequestLine? {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var id: JSONValue?
            var method: String?
            var path: String?
            var host: String?
            var websocket: Bool?
            var seen: UInt8 = 0
            skipSpace()
            if !take(UInt8(ascii: "}")) {
                while true {
                    skipSpace()
                    guard let key = keyBit() else { return nil }
                    guard seen & key == 0 else { return nil }  // a repeated key: the decoder's rule applies
                    seen |= key
                    skipSpace()
                    guard take(UInt8(ascii: ":")) else { return nil }
                    skipSpace()
                    switch key {
                    case 1:
                        guard let value = idValue() else { return nil }
                        id = value
                    case 2:
                        guard let value = string() else { return nil }
                        method = value
                    case 4:
                        guard let value = string() else { return nil }
                        path = value
                    case 8:
                        if literal("null") {
                            host = nil
                        } else {
                            guard let value = string() else { return nil }
                            host = value
                        }
                    default:
                        if literal("true") {
                            websocket = true
                        } else if literal("false") {
                            websocket = false
                        } else if !literal("null") {
                            return nil
                        }
                    }
                    skipSpace()
                    if take(UInt8(ascii: ",")) { continue }
                    guard take(UInt8(ascii: "}")) else { return nil }
                    break
                }
            }
            skipSpace()
            guard position == bytes.count, let method, let path else { return nil }
            return BatchRequestLine(id: id, method: method, path: path, host: host, websocket: websocket)
        }

        /// The bit of a known key (`id` 1, `method` 2, `path` 4, `host` 8, `websocket` 16).
        mutating func keyBit() -> UInt8? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = position
            while position < bytes.count, bytes[position] != UInt8(ascii: "\"") {
                guard bytes[position] != UInt8(ascii: "\\") else { return nil }
                position += 1
            }
            guard position < bytes.count else { return nil }
            let key = UnsafeBufferPointer(rebasing: bytes[start..<position])
            position += 1
            if Self.equal(key, "id") { return 1 }
            if Self.equal(key, "method") { return 2 }
            if Self.equal(key, "path") { return 4 }
            if Self.equal(key, "host") { return 8 }
            if Self.equal(key, "websocket") { return 16 }
            return nil
        }

        /// `id`: `null` (as if absent), a bool, a string, or an int without sign tricks and of at most 18 digits.
        mutating func idValue() -> JSONValue?? {
            if literal("null") { return .some(nil) }
            if literal("true") { return .bool(true) }
            if literal("false") { return .bool(false) }
            if position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
                return string().map(JSONValue.string)
            }
            let negative = take(UInt8(ascii: "-"))
            let start = position
            var value = 0
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                position += 1
                if position - start > 18 { return nil }
            }
            let count = position - start
            // No digits, a leading zero (`01`, `-0`) or a fraction/exponent: the decoder decides.
            guard count > 0, !(bytes[start] == UInt8(ascii: "0") && (count > 1 || negative)) else { return nil }
            if position < bytes.count {
                let next = bytes[position]
                if next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") { return nil }
            }
            return .int(negative ? -value : value)
        }

        /// A string without `\u` escapes and without raw control characters (which JSON forbids).
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = position
            var escaped = false
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    position += 2
                } else {
                    position += 1
                }
            }
            guard position < bytes.count else { return nil }
            let body = UnsafeBufferPointer(rebasing: bytes[start..<position])
            position += 1
            guard escaped else { return String(decoding: body, as: UTF8.self) }
            unescaped.removeAll(keepingCapacity: true)
            var index = 0
            while index < body.count {
                let byte = body[index]
                guard byte == UInt8(ascii: "\\") else {
                    unescaped.append(byte)
                    index += 1
                    continue
                }
                switch body[index + 1] {
                case UInt8(ascii: "\""): unescaped.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): unescaped.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): unescaped.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "r"): unescaped.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "t"): unescaped.append(UInt8(ascii: "\t"))
                default: return nil  // `\u` (surrogates and all) and invalid escapes: the decoder's rules
                }
                index += 2
            }
            return String(decoding: unescaped, as: UTF8.self)
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - position >= count else { return false }
            for offset in 0..<count where bytes[position + offset] != word.utf8Start[offset] { return false }
            position += count
            return true
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): position += 1
                default: return
                }
            }
        }

        static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
            guard bytes.count == word.utf8CodeUnitCount else { return false }
            for offset in 0..<bytes.count where bytes[offset] != word.utf8Start[offset] { return false }
            return true
        }
    }
}
