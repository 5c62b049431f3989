extension StringProtocol {
    /// Whether `self` equals `lowercase` (an all-lowercase ASCII literal) ignoring ASCII case, byte by byte:
    /// header scans run for every field of every request, and `lowercased()` allocates a new string each time.
    func equalsASCIICaseInsensitive(_ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard self.utf8.count == count else { return false }
        return lowercase.withUTF8Buffer { expected in
            var index = 0
            for byte in self.utf8 {
                // Folding bit 0x20 maps 'A'...'Z' onto 'a'...'z'; the expected byte decides whether folding applies.
                let wanted = expected[index]
                index += 1
                if byte == wanted { continue }
                guard wanted >= 0x61 && wanted <= 0x7A && byte | 0x20 == wanted else { return false }
            }
            return true
        }
    }
}
