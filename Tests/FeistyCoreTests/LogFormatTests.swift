import Foundation
import Logging
import Testing

@testable import FeistyCore

@Suite struct LogFormatTests {
    private let time = ConsoleTimestamp(secondsSinceEpoch: 1_798_675_200, milliseconds: 7)

    /// (message, metadata, the line).
    @Test(
        arguments: [
            (
                "serving", Logger.Metadata(),
                #"{"time": "2026-12-31T00:00:00.007Z", "level": "info", "message": "serving"}"#
            ),
            (
                "a \"quoted\"\nline", ["instance": "1"],
                #"{"time": "2026-12-31T00:00:00.007Z", "level": "info", "message": "a \"quoted\"\nline", "instance": "1"}"#
            ),
            (
                "access", ["status": .stringConvertible(404), "total_ms": .stringConvertible(1.5), "level": "x"],
                #"{"time": "2026-12-31T00:00:00.007Z", "level": "info", "message": "access", "meta_level": "x", "status": 404, "total_ms": 1.5}"#
            ),
        ]
    )
    func aJSONLineIsOneObject(message: String, metadata: Logger.Metadata, expected: String) throws {
        let line = ConsoleLogHandler.jsonLine(at: time, level: .info, message: message, metadata: metadata)
        #expect(line == expected)
        #expect(!line.contains("\n"))
        #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any])
    }
}
