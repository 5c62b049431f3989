import NIOCore
import NIOHTTP1

/// One finished exchange: who asked what, what the gate said, which instance answered (or that feisty did), and
/// how much and how fast. The connection state machine produces exactly one per request; every observer of traffic
/// (access log, latency baselines, hang detection, strikes, metrics) reads this value and nothing else.
public struct ExchangeRecord: Sendable, Equatable {
    /// The client address (the socket peer, or the right-most untrusted `X-Forwarded-For` entry from a trusted
    /// proxy), computed once per request.
    public var client: String
    /// The request method.
    public var method: HTTPMethod
    /// The request target as sent.
    public var target: String
    /// The route gate's verdict; `nil` when the request head could not be parsed.
    public var verdict: RouteGateDecision?
    /// The instance the request was last sent to; `nil` when it never reached the app.
    public var instance: Int?
    /// The status sent to the client (0 when nothing was sent: the client went away first).
    public var status: UInt = 0
    /// Why feisty answered itself, when it did.
    public var refusal: ProxyRefusal?
    /// Request body bytes received.
    public var requestBytes: Int64 = 0
    /// Response body bytes sent.
    public var responseBytes: Int64 = 0
    /// When the request head was parsed.
    public var receivedAt: NIODeadline
    /// When the request went to the app (the last attempt's dispatch).
    public var forwardedAt: NIODeadline?
    /// When the app's response head arrived.
    public var respondedAt: NIODeadline?
    /// When the exchange ended.
    public var endedAt: NIODeadline?
    /// Whether the request was sent to the app a second time (its instance failed before answering).
    public var retried = false
    /// What the guard said about the request head (`nil`: no guard, or the head was not judged).
    public var guardVerdict: RequestVerdict?
    /// How long the head waited for an app slot (`--app-concurrency`) before `receivedAt`; `nil`: it did not wait.
    public var queueWait: TimeAmount?

    /// Creates the record of a request whose head was just judged.
    public init(
        client: String,
        method: HTTPMethod,
        target: String,
        verdict: RouteGateDecision?,
        receivedAt: NIODeadline
    ) {
        self.client = client
        self.method = method
        self.target = target
        self.verdict = verdict
        self.receivedAt = receivedAt
    }

    /// The matched rule's index in the route table (`nil`: refused, or a Werkzeug redirect).
    public var rule: Int? {
        if case .forward(let rule)? = verdict { return rule }
        return nil
    }

    /// From forwarding the request to the app's response head.
    public var upstreamLatency: TimeAmount? {
        guard let forwardedAt, let respondedAt else { return nil }
        return respondedAt - forwardedAt
    }

    /// From the parsed request head to the response head (feisty's queueing and retries included).
    public var timeToFirstByte: TimeAmount? {
        respondedAt.map { $0 - receivedAt }
    }
}

/// Receives every finished exchange of one event loop. Observers live per event loop and aggregate without locks;
/// whoever needs a total merges them off the hot path (on the loop, through `EventLoop.submit`).
protocol ExchangeObserver: AnyObject {
    /// An exchange ended (called on the observer's event loop).
    func exchangeEnded(_ record: ExchangeRecord)
    /// An exchange started (`+1`: its request head was judged) or stopped being in flight (`-1`: it ended, its
    /// connection closed, or it became a tunnel). Called on the observer's event loop; must not allocate.
    func inFlightChanged(by delta: Int)
}

extension ExchangeObserver {
    /// Most observers only read finished exchanges.
    func inFlightChanged(by delta: Int) {}
}
