/// A request target turned into the router's input the way the Werkzeug dev server does it
/// (`http.server` `//` collapse, `urlsplit`, `unquote` in `WSGIRequestHandler.make_environ`, then
/// `path_info.lstrip("/")` in `MapAdapter.match`). Only the slow path (a `%`, an absolute-form target,
/// control characters) allocates; the common path is a byte range of the target itself.
struct RequestTarget {
    /// The decoded `path_part` when it had to be rebuilt; `nil`: it is `target.utf8[pathStart..<pathEnd]`.
    var decodedPath: [UInt8]?
    var pathStart = 0
    var pathEnd = 0
    /// `QUERY_STRING`, as a range of the target (after the slow path: of `slowTarget`).
    var queryStart = 0
    var queryEnd = 0
    /// The absolute-form authority, which replaces the `Host` header.
    var hostOverride: String?
    /// The raw bytes the query range refers to on the slow path.
    var slowTarget: [UInt8]?

    /// The common target shape, found without allocating: origin-form, no `%`, no control bytes before
    /// the query. Returns the `path_part` range (after the leading-slash collapse) and the query range.
    @inline(__always)
    static func fastPath(_ utf8: UnsafeBufferPointer<UInt8>) -> (path: Range<Int>, query: Range<Int>)? {
        let count = utf8.count
        guard count > 0, utf8[0] == UInt8(ascii: "/") else { return nil }
        var index = 0
        var stop = count
        // Eight bytes at a time while none of them needs a second look (SWAR: a byte below `&`, or
        // exactly `?` or DEL); the byte loop below finds which one it is.
        let base = UnsafeRawPointer(utf8.baseAddress!)
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if Self.hasByteNeedingALook(word) { break }
            index += 8
        }
        while index < count {
            let byte = utf8[index]
            // One range test for the usual path bytes: everything that needs a second look (controls,
            // space, `#`, `%`, `?`, DEL) is below `&` or exactly `?` or DEL.
            if byte > UInt8(ascii: "%"), byte != UInt8(ascii: "?"), byte != 0x7F {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                stop = index
                break
            }
            if byte == UInt8(ascii: "%") || byte <= 0x20 || byte == 0x7F { return nil }
            index += 1
        }
        var start = 0
        while start + 1 < stop, utf8[start + 1] == UInt8(ascii: "/") { start += 1 }
        var query = 0..<0
        if stop < count, utf8[stop] == UInt8(ascii: "?") {
            var end = stop + 1
            while end < count, utf8[end] != UInt8(ascii: "#") { end += 1 }
            query = (stop + 1)..<end
        }
        return (start..<stop, query)
    }

    /// Whether any byte of `word` is below `&` (controls, space, `#`, `%`...), `?` or DEL: the classic
    /// "has a byte less than n" and "has a zero byte" bit tricks, exact about whether there is one.
    @inline(__always)
    static func hasByteNeedingALook(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = (word &- ones &* 0x26) & ~word & highs
        let question = word ^ (ones &* 0x3F)
        let delete = word ^ (ones &* 0x7F)
        let zero = ((question &- ones) & ~question | (delete &- ones) & ~delete) & highs
        return below | zero != 0
    }

    /// Parses `utf8` (the target's bytes). Never fails: every target has some path, possibly empty.
    init(_ utf8: UnsafeBufferPointer<UInt8>) {
        if let fast = Self.fastPath(utf8) {
            pathStart = fast.path.lowerBound
            pathEnd = fast.path.upperBound
            queryStart = fast.query.lowerBound
            queryEnd = fast.query.upperBound
            return
        }
        self.parseSlow(Array(utf8))
    }

    private mutating func parseSlow(_ original: [UInt8]) {
        var bytes = original
        // http.server (gh-87389): a target starting with `//` is reduced to one `/`.
        if bytes.starts(with: [0x2F, 0x2F]) {
            bytes = [0x2F] + bytes.drop(while: { $0 == 0x2F })
        }
        // urlsplit: strip leading C0 controls and spaces, drop tabs and newlines.
        bytes = Array(bytes.drop(while: { $0 <= 0x20 }))
        bytes.removeAll { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        var url = bytes[...]
        var scheme = false
        if let colon = url.firstIndex(of: UInt8(ascii: ":")), colon > url.startIndex, Self.isAlpha(url.first!),
            url[..<colon].allSatisfy(Self.isSchemeByte)
        {
            scheme = true
            url = url[(colon + 1)...]
        }
        var netloc: ArraySlice<UInt8>?
        if url.starts(with: [0x2F, 0x2F]) {
            let afterSlashes = url.startIndex + 2
            let delimiter = url[afterSlashes...].firstIndex { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 } ?? url.endIndex
            netloc = url[afterSlashes..<delimiter]
            url = url[delimiter...]
        }
        if let hash = url.firstIndex(of: UInt8(ascii: "#")) { url = url[..<hash] }
        var path = url
        slowTarget = bytes
        if let question = url.firstIndex(of: UInt8(ascii: "?")) {
            path = url[..<question]
            queryStart = question + 1
            queryEnd = url.endIndex
        }
        var pathInfo: [UInt8]
        if let netloc, !netloc.isEmpty {
            if scheme {
                hostOverride = Self.latin1OrUTF8(netloc)
                pathInfo = Array(path)
            } else {
                pathInfo = [0x2F] + Array(netloc) + Array(path)
            }
        } else {
            pathInfo = Array(path)
        }
        pathInfo = Self.unquote(pathInfo)
        if pathInfo.isEmpty {
            decodedPath = []
        } else {
            decodedPath = [0x2F] + pathInfo.drop(while: { $0 == 0x2F })
        }
        pathStart = 0
        pathEnd = decodedPath!.count
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        isAlpha(byte) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2D || byte == 0x2E
    }

    private static func latin1OrUTF8(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// `urllib.parse.unquote` (UTF-8, errors="replace") on UTF-8 input, returning repaired UTF-8.
    static func unquote(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return Array(String(decoding: out, as: UTF8.self).utf8)
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
