import NIOCore

/// The length of a ban as `--for` and `--ban-time` take it: a duration in the proxy's syntax, or `forever`.
public enum BanDuration {
    /// Parses `30s`, `10m`, `2h`, `7d`, a number of seconds, or `forever`.
    /// - Returns: The length in seconds; `nil` for forever.
    /// - Throws: `StoreError.invalidDuration` (also for zero: a ban that never holds is a mistake).
    public static func seconds(parsing text: String) throws(StoreError) -> Double? {
        if text.lowercased() == "forever" { return nil }
        guard let amount = try? ProxyValueParsing.seconds(text), amount.nanoseconds > 0 else {
            throw .invalidDuration(text)
        }
        return Double(amount.nanoseconds) / 1e9
    }
}
