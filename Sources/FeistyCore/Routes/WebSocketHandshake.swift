extension RouteMatcher {
    /// Whether Werkzeug's `Map.bind_to_environ` takes the request for a WebSocket handshake (and binds the `ws`
    /// scheme): a `Connection` token is `upgrade` and `Upgrade` is exactly `websocket`, both in any case.
    ///
    /// The dev server joins repeated fields with `,` in the environ, so a token may come from any `Connection`
    /// line, while two `Upgrade` lines (`websocket,websocket`) never make a handshake. Tokens are stripped of
    /// Python's `str.strip()` whitespace; values are compared as the dev server reads them (Latin-1), so any
    /// non-ASCII byte spoils the comparison. One byte cannot be mirrored: a raw `0x85` or `0xA0` padding a
    /// `Connection` token is whitespace to Python but is no valid UTF-8 in a `String`.
    /// - Parameters:
    ///   - connection: The values of every `Connection` field, in order (none: no field).
    ///   - upgrade: The values of every `Upgrade` field, in order.
    /// - Returns: The `websocket` argument of `match` and `gate`.
    public static func isWebSocketHandshake<Connection: Sequence<String>, Upgrade: Sequence<String>>(
        connection: Connection,
        upgrade: Upgrade
    ) -> Bool {
        var upgrades = upgrade.makeIterator()
        guard let only = upgrades.next(), upgrades.next() == nil, Self.equalsLowercased(only.utf8[...], "websocket")
        else { return false }
        return connection.contains { value in
            value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).contains { token in
                Self.equalsLowercased(Self.pythonStripped(token), "upgrade")
            }
        }
    }

    /// `token.strip()`: the ASCII characters `str.isspace()` accepts (tab to carriage return, the separators
    /// 0x1C to 0x1F, space).
    private static func pythonStripped(_ token: Substring.UTF8View) -> Substring.UTF8View {
        func isSpace(_ byte: UInt8) -> Bool { (9...13).contains(byte) || (28...32).contains(byte) }
        var stripped = token
        while let first = stripped.first, isSpace(first) { stripped.removeFirst() }
        while let last = stripped.last, isSpace(last) { stripped.removeLast() }
        return stripped
    }

    /// `value.lower() == lowercase` for an ASCII `lowercase`: only `A`–`Z` lower to ASCII letters in Latin-1.
    private static func equalsLowercased(_ value: Substring.UTF8View, _ lowercase: StaticString) -> Bool {
        guard value.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            var index = 0
            for byte in value {
                let lowered = (65...90).contains(byte) ? byte | 0x20 : byte
                if lowered != expected[index] { return false }
                index += 1
            }
            return true
        }
    }
}
