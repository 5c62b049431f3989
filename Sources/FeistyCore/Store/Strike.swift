import Foundation

/// One strike against a key: an undeclared path it asked for, and when.
public struct Strike: Sendable, Hashable {
    public var key: BanKey
    public var time: Date
    public var path: String

    public init(key: BanKey, time: Date, path: String) {
        self.key = key
        self.time = time
        self.path = path
    }
}
