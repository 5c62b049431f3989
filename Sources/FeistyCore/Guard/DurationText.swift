/// Durations as the flags spell them (`45s`, `10m`, `2h`, `1w`), for log lines: the largest unit that divides the
/// duration exactly, else seconds.
enum DurationText {
    static func short(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        for (unit, size) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3600), ("m", 60)]
        where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
