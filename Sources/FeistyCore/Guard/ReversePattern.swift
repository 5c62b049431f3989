/// A reverse-DNS pattern of `--allow`, `--deny` or `--priority`: `*.googlebot.com` (or `.googlebot.com`).
///
/// A client matches when the name its address resolves back to (its PTR record) lies strictly under the suffix
/// (`crawl-66-249-66-1.googlebot.com` does; `googlebot.com` itself and `evilgooglebot.com` do not) **and** that
/// name resolves forward to the client's address again (forward-confirmed reverse DNS), so a client cannot claim a
/// name by writing its own PTR record. ``ClientListsResolver`` performs both lookups off the event loops; until a
/// client's address has been checked, no pattern matches it.
public struct ReversePattern: Sendable, Hashable, CustomStringConvertible {
    /// The domain the PTR name must lie under, lower case, without leading or trailing dot: `googlebot.com`.
    public let suffix: String
    /// `.googlebot.com`, compared byte by byte.
    private let dottedSuffix: String

    /// A pattern for the names under `suffix`.
    /// - Parameter suffix: A host name (`googlebot.com`); case and a trailing dot are ignored.
    /// - Returns: `nil` when `suffix` is not a host name.
    public init?(suffix: some StringProtocol) {
        guard let name = HostNameSyntax.normalized(suffix) else { return nil }
        self.suffix = name
        self.dottedSuffix = "." + name
    }

    /// Parses `*.SUFFIX` or `.SUFFIX`.
    /// - Returns: `nil` for any other text.
    public init?(parsing text: some StringProtocol) {
        let rest: Substring
        if text.hasPrefix("*.") {
            rest = Substring(text).dropFirst(2)
        } else if text.hasPrefix(".") {
            rest = Substring(text).dropFirst()
        } else {
            return nil
        }
        self.init(suffix: rest)
    }

    /// Whether a PTR name lies under this pattern's suffix (the forward confirmation is not part of this test).
    /// - Parameter name: A host name as `getnameinfo` returns it; case and a trailing dot are ignored.
    public func matches(name: some StringProtocol) -> Bool {
        var candidate = Substring(name)
        if candidate.hasSuffix(".") { candidate = candidate.dropLast() }
        let suffixBytes = dottedSuffix.utf8
        let nameBytes = candidate.utf8
        guard nameBytes.count > suffixBytes.count else { return false }
        return zip(nameBytes.suffix(suffixBytes.count), suffixBytes).allSatisfy { pair in
            HostNameSyntax.lowercased(pair.0) == pair.1
        }
    }

    public var description: String { "*.\(suffix)" }
}

/// The spelling of host names as list entries accept them (RFC 1123 labels, `_` tolerated).
enum HostNameSyntax {
    /// The lower-case form of `text` without a trailing dot, or `nil` when `text` is not a host name: labels of
    /// 1 to 63 letters, digits, `-` or `_`, not starting or ending with `-`; at most 253 bytes; a last label that
    /// is not all digits (so `300.1.1.1` is no host name).
    static func normalized(_ text: some StringProtocol) -> String? {
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
        let labels = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count), label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
                label.allSatisfy(isLabelByte)
            else { return nil }
        }
        guard let last = labels.last, !last.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return String(decoding: name.utf8.map(lowercased), as: UTF8.self)
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
