/// One request to the admin listener, as the server read it (the body already bounded).
public struct AdminRequest: Sendable, Hashable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The request target (path and query).
    public var target: String
    /// The `Authorization` header, if any.
    public var authorization: String?
    /// The body (at most ``AdminRequest/maximumBodyBytes``).
    public var body: [UInt8]

    /// Bodies longer than this are answered 413 unread: control bodies are a few dozen bytes.
    public static let maximumBodyBytes = 64 * 1024

    /// Creates a request.
    public init(method: String, target: String, authorization: String? = nil, body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.authorization = authorization
        self.body = body
    }
}
