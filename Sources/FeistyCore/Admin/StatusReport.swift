import Foundation

/// The admin listener's `GET /status`: the whole state of a running feisty in one JSON object (see
/// docs/ARCHITECTURE.md for the contract). Keys are snake_case through the coders of ``StatusReport/encoder()``.
public struct StatusReport: Codable, Sendable, Equatable {
    public var feisty: Feisty
    @Nullable public var traffic: Traffic?
    public var instances: [Instance]
    /// Recent lifecycle events, newest last.
    public var events: [Event]
    /// `null` under `--no-guard`.
    @Nullable public var `guard`: Guard?
    public var routes: [Route]

    /// feisty itself.
    public struct Feisty: Codable, Sendable, Equatable {
        public var version: String
        public var pid: Int
        public var startedAt: Date
        public var uptimeSeconds: Double
        @Nullable public var rssBytes: Int?
        @Nullable public var openConnections: Int?
        public var app: String
        /// The public address (`null` until it is known).
        @Nullable public var listen: String?
        public var ready: Bool
        public var `guard`: Bool
    }

    /// The proxy's traffic (``TrafficStatus`` without its per-route part, which goes into ``StatusReport/routes``).
    public struct Traffic: Codable, Sendable, Equatable {
        public var requests: Int
        public var inFlight: Int
        public var queueDepth: Int
        public var byVerdict: [String: Int]
        public var byStatus: [String: Int]
        @Nullable public var latencyMs: TrafficStatus.Percentiles?
        @Nullable public var upstreamLatencyMs: TrafficStatus.Percentiles?

        init(_ status: TrafficStatus) {
            requests = status.requests
            inFlight = status.inFlight
            queueDepth = status.queueDepth
            byVerdict = status.byVerdict
            byStatus = status.byStatus
            latencyMs = status.latencyMs
            upstreamLatencyMs = status.upstreamLatencyMs
        }
    }

    /// One app instance.
    public struct Instance: Codable, Sendable, Equatable {
        public var id: Int
        @Nullable public var pid: Int?
        /// starting, ready, draining or stopping.
        public var state: String
        @Nullable public var address: String?
        public var ageSeconds: Double
        /// The instance's whole process group.
        @Nullable public var rssBytes: Int?
        @Nullable public var requests: Int?
    }

    /// One lifecycle event.
    public struct Event: Codable, Sendable, Equatable {
        public var at: Date
        public var kind: String
        @Nullable public var instance: Int?
        public var cause: String
        /// How long the fault lasted before feisty acted (a hang's silence, the time above `--max-rss`).
        @Nullable public var detectedAfterSeconds: Double?
    }

    /// The guard's state.
    public struct Guard: Codable, Sendable, Equatable {
        public var strikesTotal: Int
        public var bansActive: Int
        public var bansTotal: Int
        public var refusedTotal: Int
        public var throttledTotal: Int
        /// The most recent bans in force, newest first.
        public var bans: [Ban]
        /// Clients with the most strikes in the window.
        public var topOffenders: [Offender]
    }

    /// One ban in force.
    public struct Ban: Codable, Sendable, Equatable {
        public var client: String
        public var reason: String
        public var since: Date
        /// `null`: forever.
        @Nullable public var until: Date?
        /// How many times this key was banned.
        public var count: Int
    }

    /// A client with strikes.
    public struct Offender: Codable, Sendable, Equatable {
        public var client: String
        public var strikes: Int
        public var banned: Bool
    }

    /// One rule of the route table with its traffic.
    public struct Route: Codable, Sendable, Equatable {
        public var index: Int
        public var rule: String
        @Nullable public var methods: [String]?
        public var endpoint: String
        @Nullable public var requests: Int?
        @Nullable public var latencyMs: TrafficStatus.Percentiles?
    }

    /// The encoder of the contract: snake_case keys, RFC 3339 times, sorted keys (stable output).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The matching decoder (`feisty status`).
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
