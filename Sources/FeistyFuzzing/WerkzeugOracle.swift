#if canImport(FeistyCore)
    import FeistyCore
#endif

/// What `tests/differential/werkzeug_oracle.py` prints: seeded random Flask apps (as the probe describes their
/// maps) and, for each, generated requests with the verdict the Werkzeug dev server and Flask would give them.
public struct WerkzeugOracleOutput: Decodable, Sendable {
    public var seed: Int
    public var rulesets: [Ruleset]

    /// One generated app: its route table and the judged requests.
    public struct Ruleset: Decodable, Sendable {
        public var index: Int
        public var table: RouteTable
        public var cases: [Case]
    }

    /// One request and Werkzeug's verdict on it.
    public struct Case: Decodable, Sendable {
        public var method: String
        public var target: String
        public var host: String
        public var expect: Expect
        /// The `Connection` and `Upgrade` field values, one per field line (WebSocket run only).
        public var connection: [String]?
        public var upgrade: [String]?
    }

    /// Werkzeug's verdict: `kind` is `match`, `redirect`, `404`, `405`, `websocket_mismatch`, `bad_host` or
    /// `error` (the app would answer 500); the other fields belong to one kind each.
    public struct Expect: Decodable, Sendable {
        public var kind: String
        public var location: String?
        public var allowed: [String]?
        public var endpoint: String?
        public var rule: Int?
        /// `[name, tag, text]`: Python's type name (`int`, `float`, `str`, `bool`, `null`, `json`) and value.
        public var args: [[String]]?
        public var message: String?
    }
}
