import Foundation

extension Duration {
    /// The duration in seconds, as Foundation's dates and JSON reports count time.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
