/// How Flask 3.1 binds the URL map to a request's host (`Flask.create_url_adapter`,
/// `Map.bind_to_environ`, `Map.bind`, `werkzeug.sansio.utils.get_host`).
struct HostBinding: Sendable {
    let hostMatching: Bool
    let subdomainMatching: Bool
    /// `SERVER_NAME`, lower-cased and without `:80`, when configured.
    let serverName: String?
    let defaultSubdomain: String

    /// The adapter Werkzeug would build for one request.
    struct Bound {
        /// `domain_part` handed to the state machine.
        var domain: String
        /// `MapAdapter.server_name`.
        var serverName: String
        /// `MapAdapter.subdomain` (`nil` with host matching).
        var subdomain: String?
    }

    init(table: RouteTable) {
        hostMatching = table.hostMatching
        subdomainMatching = table.subdomainMatching
        defaultSubdomain = table.defaultSubdomain
        if let name = table.serverName {
            var lowered = name.lowercased()
            if lowered.hasSuffix(":80") { lowered.removeLast(3) }
            serverName = lowered
        } else {
            serverName = nil
        }
    }

    /// Whether the configured server name passes `Map.bind`'s IDNA encoding.
    var serverNameIsValid: Bool { serverName.map { Self.idnaValid($0) } ?? true }

    /// `get_host(environ)` on a `Host` value: `:80` removed, then `""` unless it matches `_host_re`.
    /// Returns the byte range of the kept host inside `utf8` (`nil`: the empty host).
    static func wsgiHostRange(_ utf8: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var end = utf8.count
        if end >= 3, utf8[end - 3] == UInt8(ascii: ":"), utf8[end - 2] == UInt8(ascii: "8"),
            utf8[end - 1] == UInt8(ascii: "0")
        {
            end -= 3
        }
        return matchesHostPattern(utf8, end) ? 0..<end : nil
    }

    /// Whether `Map.bind` accepts this `Host` header (no `BadHost`), in one pass for the usual
    /// `name[:port]` shape; other shapes take the two-step path.
    static func hostBinds(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = utf8.count
        if end >= 3, utf8[end - 3] == UInt8(ascii: ":"), utf8[end - 2] == UInt8(ascii: "8"),
            utf8[end - 1] == UInt8(ascii: "0")
        {
            end -= 3
        }
        if end == 0 || utf8[0] == UInt8(ascii: "[") {
            guard let range = wsgiHostRange(utf8) else { return true }
            return idnaValid(UnsafeBufferPointer(rebasing: utf8[range]))
        }
        var index = 0
        var label = 0
        var idnaOK = true
        while index < end {
            let byte = utf8[index]
            // Lower-case letters first: the usual host is all of them.
            if byte &- 0x61 < 26 {
                label += 1
                index += 1
                continue
            }
            let folded = byte | 0x20
            if (folded >= 0x61 && folded <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") {
                label += 1
            } else if byte == UInt8(ascii: ".") {
                if label == 0 || label >= 64 { idnaOK = false }
                label = 0
            } else {
                break
            }
            index += 1
        }
        if label >= 64 { idnaOK = false }
        if index < end {
            // Only `:digits` may follow the name; anything else makes the host "" (which binds).
            guard utf8[index] == UInt8(ascii: ":"), index + 1 < end else { return true }
            for position in (index + 1)..<end where !(utf8[position] >= 0x30 && utf8[position] <= 0x39) {
                return true
            }
        }
        return idnaOK
    }

    /// `_host_re.fullmatch`: `([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+])(?::[0-9]+)?`, ASCII, any case.
    private static func matchesHostPattern(_ utf8: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        guard end > 0 else { return false }
        var index = 0
        func isHex(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
        }
        if utf8[0] == UInt8(ascii: "[") {
            // IPv6: backtracking over `[a-f0-9]*:` means "some `:` after hex digits only".
            var cursor = 1
            while cursor < end, isHex(utf8[cursor]) { cursor += 1 }
            guard cursor < end, utf8[cursor] == UInt8(ascii: ":") else { return false }
            cursor += 1
            let bodyStart = cursor
            while cursor < end,
                isHex(utf8[cursor]) || utf8[cursor] == UInt8(ascii: ".") || utf8[cursor] == UInt8(ascii: ":")
            {
                cursor += 1
            }
            // `[a-f0-9.:]+` is greedy but may give back characters so that `](?::\d+)?` matches.
            var stop = cursor
            while stop >= bodyStart + 1 {
                if stop < end, utf8[stop] == UInt8(ascii: "]"), portMatches(utf8, stop + 1, end) { return true }
                stop -= 1
            }
            return false
        }
        while index < end {
            let byte = utf8[index] | 0x20
            let isName =
                (byte >= 0x61 && byte <= 0x7A) || (utf8[index] >= 0x30 && utf8[index] <= 0x39)
                || utf8[index] == UInt8(ascii: ".") || utf8[index] == UInt8(ascii: "-")
            if !isName { break }
            index += 1
        }
        guard index > 0 else { return false }
        return portMatches(utf8, index, end)
    }

    private static func portMatches(_ utf8: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        if start == end { return true }
        guard utf8[start] == UInt8(ascii: ":"), start + 1 < end else { return false }
        for index in (start + 1)..<end where !(utf8[index] >= 0x30 && utf8[index] <= 0x39) { return false }
        return true
    }

    /// Python's `hostname.encode("idna")` succeeds for the part before the first `:` (ASCII names:
    /// every label but the last non-empty and under 64 bytes, the last under 64).
    static func idnaValid(_ host: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = 0
        while end < host.count, host[end] != UInt8(ascii: ":") { end += 1 }
        if end == 0 { return true }
        var labelLength = 0
        for index in 0..<end {
            if host[index] == UInt8(ascii: ".") {
                if labelLength == 0 || labelLength >= 64 { return false }
                labelLength = 0
            } else {
                labelLength += 1
            }
        }
        return labelLength < 64
    }

    static func idnaValid(_ host: String) -> Bool {
        var copy = host
        return copy.withUTF8 { idnaValid($0) }
    }

    /// `bytes` as a `String`, ASCII upper-case letters lowered.
    static func asciiLowercased(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(where: { $0 &- 0x41 < 26 }) else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: bytes.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Binds the map for a request with this `Host` (already the absolute-form authority if any).
    /// - Returns: `nil` where Werkzeug raises `BadHost`.
    func bind(host: String) -> Bound? {
        // Borrowed in place (no copy); the kept host is ASCII (`_host_re`), so ASCII lower-casing is
        // Python's `str.lower()` here.
        let (wsgiHost, wsgiHostValid) = host.utf8.span.withUnsafeBufferPointer { buffer -> (String, Bool) in
            guard let range = Self.wsgiHostRange(buffer) else { return ("", true) }
            let kept = UnsafeBufferPointer(rebasing: buffer[range])
            return (Self.asciiLowercased(kept), Self.idnaValid(kept))
        }
        if hostMatching {
            guard wsgiHostValid else { return nil }
            return Bound(domain: wsgiHost, serverName: wsgiHost, subdomain: nil)
        }
        let serverName = self.serverName ?? wsgiHost
        var subdomain = defaultSubdomain
        if subdomainMatching {
            let current = wsgiHost.split(separator: ".", omittingEmptySubsequences: false)
            let real = serverName.split(separator: ".", omittingEmptySubsequences: false)
            if current.count >= real.count, Array(current.suffix(real.count)) == real {
                subdomain = current.dropLast(real.count).filter { !$0.isEmpty }.joined(separator: ".")
            } else {
                subdomain = "<invalid>"
            }
        }
        guard self.serverName == nil ? wsgiHostValid : Self.idnaValid(serverName) else { return nil }
        return Bound(domain: subdomain, serverName: serverName, subdomain: subdomain)
    }
}
