import Foundation

/// What the admin listener answers.
public struct AdminResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// `Content-Type`.
    public var contentType: String
    /// Extra headers (`Allow`, `WWW-Authenticate`).
    public var headers: [String: String]
    /// The body.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, contentType: String, headers: [String: String] = [:], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A plain-text answer.
    public static func text(_ status: Int, _ text: String, headers: [String: String] = [:]) -> AdminResponse {
        AdminResponse(
            status: status,
            contentType: "text/plain; charset=utf-8",
            headers: headers,
            body: Array(text.utf8)
        )
    }

    /// `{"error": message}`.
    public static func error(_ status: Int, _ message: String, headers: [String: String] = [:]) -> AdminResponse {
        json(status, ["error": message], headers: headers)
    }

    /// A JSON object of plain values (control answers).
    public static func json(_ status: Int, _ object: [String: any Sendable], headers: [String: String] = [:])
        -> AdminResponse
    {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return AdminResponse(
            status: status,
            contentType: "application/json",
            headers: headers,
            body: Array(data) + [0x0A]
        )
    }
}
