/// The lists a client address is on: `--allow`, `--deny`, `--priority`.
///
/// ``ClientListsSnapshot/membership(of:)`` never returns `.allowed` together with `.denied`: an address on both
/// lists is denied (deny wins). `.priority` is independent of the other two.
public struct ClientListMembership: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// On `--allow`: never struck, banned or throttled.
    public static let allowed = ClientListMembership(rawValue: 1 << 0)
    /// On `--deny`: refused like a banned client.
    public static let denied = ClientListMembership(rawValue: 1 << 1)
    /// On `--priority`: served first by the admission queue.
    public static let priority = ClientListMembership(rawValue: 1 << 2)

    /// The membership with deny's precedence applied: `.allowed` is dropped when `.denied` is present.
    var resolvingPrecedence: ClientListMembership {
        contains(.denied) ? subtracting(.allowed) : self
    }

    public var description: String {
        let names = [(Self.allowed, "allowed"), (.denied, "denied"), (.priority, "priority")]
            .filter { contains($0.0) }.map(\.1)
        return "[" + names.joined(separator: ", ") + "]"
    }
}
