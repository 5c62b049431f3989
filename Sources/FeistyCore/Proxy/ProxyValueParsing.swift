import NIOCore

/// Parsers for the values of the proxy flags; each throws a `ProxyError` that reads well as a one-line CLI error.
public enum ProxyValueParsing {
    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (host defaults to `defaultHost`).
    /// - Parameters:
    ///   - text: The flag value.
    ///   - defaultHost: The host used when only a port is given.
    /// - Returns: The host (without brackets) and port.
    /// - Throws: `ProxyError.invalidAddress`.
    public static func hostPort(_ text: String, defaultHost: String = "127.0.0.1") throws(ProxyError) -> (
        host: String, port: Int
    ) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidAddress(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .invalidAddress(text) }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .invalidAddress(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .invalidAddress(text) }  // bare IPv6 needs brackets
        }
        if host.isEmpty { host = Substring(defaultHost) }
        guard let port = Int(portText), (0...65535).contains(port) else { throw .invalidAddress(text) }
        return (String(host), port)
    }

    /// Parses a byte size: `1048576`, `512k`, `10m`, `1g` (binary multiples, case-insensitive, optional `b`/`ib`).
    /// - Returns: The size in bytes; `nil` for `0`, `none` or `unlimited`.
    /// - Throws: `ProxyError.invalidSize`.
    public static func size(_ text: String) throws(ProxyError) -> Int64? {
        var value = text.lowercased().trimmingSpaces()
        if value == "unlimited" || value == "none" { return nil }
        for suffix in ["ib", "b"] where value.hasSuffix(suffix) && value.count > suffix.count {
            value.removeLast(suffix.count)
            break
        }
        var multiplier: Int64 = 1
        switch value.last {
        case "k": multiplier = 1 << 10
        case "m": multiplier = 1 << 20
        case "g": multiplier = 1 << 30
        case "t": multiplier = 1 << 40
        default: break
        }
        if multiplier != 1 { value.removeLast() }
        guard let number = Double(value), number >= 0, number.isFinite else { throw .invalidSize(text) }
        let bytes = number * Double(multiplier)
        guard bytes < 9.0e18 else { throw .invalidSize(text) }
        return bytes == 0 ? nil : Int64(bytes)
    }

    /// Parses a duration into a `TimeAmount`: seconds (`10`, `0.5`) or a number with a unit (`500ms`, `30s`, `5m`,
    /// `2h`, `1d`, `1w`).
    /// - Throws: `ProxyError.invalidDuration`.
    public static func seconds(_ text: String) throws(ProxyError) -> TimeAmount {
        var number = text.trimmingSpaces().lowercased()
        var unit = 1.0
        let units = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0), ("w", 604_800.0)]
        for (suffix, scale) in units
        where number.hasSuffix(suffix) && number.count > suffix.count {
            number.removeLast(suffix.count)
            unit = scale
            break
        }
        guard let value = Double(number), value >= 0, value * unit < 1e9 else {
            throw .invalidDuration(text)
        }
        return .nanoseconds(Int64(value * unit * 1e9))
    }

    /// `seconds(_:)` as a standard-library `Duration`, for the values that never meet NIO (the guard's windows).
    /// - Throws: `ProxyError.invalidDuration`.
    public static func duration(_ text: String) throws(ProxyError) -> Duration {
        .nanoseconds(try seconds(text).nanoseconds)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
