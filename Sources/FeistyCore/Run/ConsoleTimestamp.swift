#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A wall-clock instant to the millisecond, printed in ISO 8601 UTC (`2026-11-30T17:02:11.123Z`): the start of every
/// line of feisty's console log.
///
/// Formatted with integer arithmetic rather than `DateFormatter` or `gmtime_r`: the access log stamps every request,
/// and the calendar arithmetic is exact and cheap.
struct ConsoleTimestamp: Sendable, Hashable {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    var secondsSinceEpoch: Int64
    /// Milliseconds into that second, 0 through 999.
    var milliseconds: Int

    /// Now, from the system's real-time clock.
    static func now() -> ConsoleTimestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return ConsoleTimestamp(secondsSinceEpoch: Int64(time.tv_sec), milliseconds: Int(time.tv_nsec / 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (years 0 through 9999).
    var iso8601: String {
        var days = secondsSinceEpoch / 86_400
        var secondOfDay = secondsSinceEpoch % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        Self.append(Int(year), digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.append(month, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.append(day, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        Self.append(Int(secondOfDay / 3600), digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.append(Int(secondOfDay / 60 % 60), digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.append(Int(secondOfDay % 60), digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Self.append(milliseconds, digits: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The proleptic Gregorian date of a day count: Howard Hinnant's `civil_from_days`, which counts in 400-year
    /// eras starting on March 1st so that the leap day is the last day of a year.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468  // days from 0000-03-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 is March
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func append(_ value: Int, digits: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = max(0, value)
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
