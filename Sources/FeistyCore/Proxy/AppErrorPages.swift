import Foundation
import NIOCore
import NIOHTTP1

/// The app's own answers to the requests feisty refuses itself: an undeclared URL (404) and a declared URL with a
/// method its rules do not allow (405), as the launcher rendered them once through Flask's full request path (error
/// handlers, `after_request` hooks, extensions such as flask-cors) for each kind of client.
///
/// Decoded from the launch report's `error_pages` object (`feisty_probe.py`, command `error-pages`). The proxy
/// serves them through ``Prebuilt``; when a page is missing or must not be replayed, feisty's own text stays.
public struct AppErrorPages: Sendable, Hashable, Decodable {
    /// The kind of client a rendering was made for, told apart by the request's `Accept` header.
    public enum ClientKind: String, Sendable, Hashable, CaseIterable, Codable {
        /// A browser navigating: `Accept` names `text/html` (or XHTML).
        case html
        /// An API client: `Accept` names `application/json` (or a `+json` type) and no HTML.
        case json
        /// Any other `Accept` (`*/*`, `text/plain`, ...).
        case any
        /// No `Accept` header at all (or an empty one).
        case none

        /// Classifies a request's `Accept` header as the launcher's renderings did: `text/html` or
        /// `application/xhtml+xml` with a nonzero quality is a browser (even with JSON beside it, as Flask's
        /// `accept_json and not accept_html` idiom reads it); else `application/json` or `*/*+json` types are an API
        /// client; anything else is ``any``; a missing or blank header is ``none``. One pass over the value.
        /// - Parameter accept: The `Accept` header's value (`nil` when absent).
        public init(accept: String?) {
            guard let accept else {
                self = .none
                return
            }
            var sawRange = false
            var sawJSON = false
            for range in accept.utf8.split(separator: UInt8(ascii: ",")) {
                let parameters = range.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
                guard let type = parameters.first?.trimmingASCIISpaces(), !type.isEmpty else { continue }
                sawRange = true
                if parameters.dropFirst().contains(where: Self.isZeroQuality) { continue }
                if type.equalsASCIICaseInsensitive("text/html")
                    || type.equalsASCIICaseInsensitive("application/xhtml+xml")
                {
                    self = .html
                    return
                }
                if type.equalsASCIICaseInsensitive("application/json") || type.endsWithASCIICaseInsensitive("+json") {
                    sawJSON = true
                }
            }
            self = sawJSON ? .json : (sawRange ? .any : .none)
        }

        /// `q=0` (or `q=0.0...`): the client refuses this range.
        private static func isZeroQuality(_ parameter: Substring.UTF8View.SubSequence) -> Bool {
            let text = parameter.trimmingASCIISpaces()
            guard text.count >= 3, text.first == UInt8(ascii: "q") || text.first == UInt8(ascii: "Q"),
                text.dropFirst().first == UInt8(ascii: "=")
            else { return false }
            return text.dropFirst(2).allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: ".") }
        }
    }

    /// What the app's answer to the refusal was.
    public enum Outcome: String, Sendable, Hashable, Decodable {
        /// An error status (4xx, 5xx).
        case error
        /// A redirect (3xx): an app that sends unknown URLs to its login or home page.
        case redirect
        /// A success (1xx, 2xx): a catch-all page.
        case success
    }

    /// One rendered response.
    public struct Page: Sendable, Hashable, Decodable {
        /// The status the app answered.
        public var status: Int
        /// The headers, in the app's order, without hop-by-hop fields, `Content-Length`, `Date`, `Set-Cookie`,
        /// `Allow` and the values that were particular to the probe request.
        public var headers: [Header]
        /// The body (at most 64 KiB).
        public var body: [UInt8]
        /// The names of the headers left out because they were per request.
        public var droppedHeaders: [String]
        /// Why the page must not be replayed to other clients (its body changes per request or names the probe
        /// request); empty when it may.
        public var perRequest: [String]

        /// Whether feisty may answer a refused request with this page: a client error the app gives every
        /// request alike. Redirects, successes and server errors are the app's business, not a page to replay.
        public var isReplayable: Bool { perRequest.isEmpty && (400..<500).contains(status) }

        /// Creates a page.
        public init(
            status: Int,
            headers: [Header],
            body: [UInt8],
            droppedHeaders: [String] = [],
            perRequest: [String] = []
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.droppedHeaders = droppedHeaders
            self.perRequest = perRequest
        }

        private enum CodingKeys: String, CodingKey {
            case status, headers
            case body = "body_base64"
            case droppedHeaders = "dropped_headers"
            case perRequest = "per_request"
        }

        /// Decodes a page; headers are `[name, value]` pairs and the body is Base64.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            status = try container.decode(Int.self, forKey: .status)
            let pairs = try container.decode([[String]].self, forKey: .headers)
            headers = try pairs.map { pair in
                guard pair.count == 2 else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .headers,
                        in: container,
                        debugDescription: "a header is not a [name, value] pair"
                    )
                }
                return Header(name: pair[0], value: pair[1])
            }
            let text = try container.decode(String.self, forKey: .body)
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(forKey: .body, in: container, debugDescription: "not Base64")
            }
            body = Array(data)
            droppedHeaders = try container.decodeIfPresent([String].self, forKey: .droppedHeaders) ?? []
            perRequest = try container.decodeIfPresent([String].self, forKey: .perRequest) ?? []
        }
    }

    /// One header field of a page.
    public struct Header: Sendable, Hashable {
        /// The field name, as the app spelled it.
        public var name: String
        /// The field value.
        public var value: String

        /// Creates a header field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The renderings of one refusal (404 or 405) for every kind of client.
    public struct Rendering: Sendable, Hashable, Decodable {
        /// Whether the launcher rendered it (no: a catch-all rule, no rule refusing a method, or the app raised).
        public var rendered: Bool
        /// Why it was not rendered.
        public var reason: String?
        /// The request the launcher sent (`GET /feisty-.../....html`, `DELETE /items`).
        public var probe: String?
        /// What the app answered a client without particular wishes (`Accept: */*`).
        public var outcome: Outcome?
        /// The page per kind of client.
        public var pages: [ClientKind: Page]
        /// The app's `Allow` for the probed route (405 only): feisty substitutes the refused route's methods.
        public var allow: String?
        /// How the app joined the methods in `Allow` (`", "` for Werkzeug).
        public var allowSeparator: String

        /// Creates a rendering.
        public init(
            rendered: Bool,
            reason: String? = nil,
            probe: String? = nil,
            outcome: Outcome? = nil,
            pages: [ClientKind: Page] = [:],
            allow: String? = nil,
            allowSeparator: String = ", "
        ) {
            self.rendered = rendered
            self.reason = reason
            self.probe = probe
            self.outcome = outcome
            self.pages = pages
            self.allow = allow
            self.allowSeparator = allowSeparator
        }

        private enum CodingKeys: String, CodingKey {
            case rendered, reason, probe, outcome, pages, allow
            case allowSeparator = "allow_separator"
        }

        /// Decodes a rendering; kinds this version does not know are ignored.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            rendered = try container.decode(Bool.self, forKey: .rendered)
            reason = try container.decodeIfPresent(String.self, forKey: .reason)
            probe = try container.decodeIfPresent(String.self, forKey: .probe)
            outcome = try container.decodeIfPresent(String.self, forKey: .outcome).flatMap(Outcome.init(rawValue:))
            let named = try container.decodeIfPresent([String: Page].self, forKey: .pages) ?? [:]
            pages = [:]
            for (name, page) in named {
                if let kind = ClientKind(rawValue: name) { pages[kind] = page }
            }
            allow = try container.decodeIfPresent(String.self, forKey: .allow)
            allowSeparator = try container.decodeIfPresent(String.self, forKey: .allowSeparator) ?? ", "
        }

        /// The page for `kind`; a client without `Accept` falls back to the `*/*` rendering when it is missing.
        public func page(for kind: ClientKind) -> Page? {
            pages[kind] ?? (kind == .none ? pages[.any] : nil)
        }
    }

    /// The app's answers to an undeclared URL.
    public var notFound: Rendering?
    /// The app's answers to a declared URL with a method it does not allow.
    public var methodNotAllowed: Rendering?

    /// Creates the pages.
    public init(notFound: Rendering?, methodNotAllowed: Rendering?) {
        self.notFound = notFound
        self.methodNotAllowed = methodNotAllowed
    }

    private enum CodingKeys: String, CodingKey {
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
    }

    /// The pages built once for the proxy.
    public func prebuilt(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> Prebuilt {
        Prebuilt(self, allocator: allocator)
    }

    /// The replayable pages as response heads and bodies, built once per publication, so the refusal path only
    /// picks one (an `Accept` scan) and adds `Allow` and `Connection`. Identical renderings share one page: an app
    /// that answers every client alike has one.
    public struct Prebuilt: Sendable {
        /// One ready response.
        public struct Response: Sendable {
            /// The app's status.
            public var status: HTTPResponseStatus
            /// The app's headers plus `Content-Length` (no `Allow`, no `Connection`).
            public var headers: HTTPHeaders
            /// The body.
            public var body: ByteBuffer
        }

        private var notFound: [ClientKind: Response] = [:]
        private var methodNotAllowed: [ClientKind: Response] = [:]
        /// How the app joins the methods of `Allow`.
        public let allowSeparator: String

        init(_ pages: AppErrorPages, allocator: ByteBufferAllocator) {
            allowSeparator = pages.methodNotAllowed?.allowSeparator ?? ", "
            notFound = Self.build(pages.notFound, allocator: allocator)
            methodNotAllowed = Self.build(pages.methodNotAllowed, allocator: allocator)
        }

        /// Whether any page will be served.
        public var isEmpty: Bool { notFound.isEmpty && methodNotAllowed.isEmpty }

        private static func build(_ rendering: Rendering?, allocator: ByteBufferAllocator) -> [ClientKind: Response] {
            guard let rendering, rendering.rendered else { return [:] }
            var built: [ClientKind: Response] = [:]
            var shared: [Page: Response] = [:]
            for kind in ClientKind.allCases {
                guard let page = rendering.page(for: kind), page.isReplayable else { continue }
                if let response = shared[page] {
                    built[kind] = response
                    continue
                }
                var headers = HTTPHeaders()
                for header in page.headers { headers.add(name: header.name, value: header.value) }
                headers.add(name: "content-length", value: String(page.body.count))
                let response = Response(
                    status: HTTPResponseStatus(statusCode: page.status),
                    headers: headers,
                    body: allocator.buffer(bytes: page.body)
                )
                shared[page] = response
                built[kind] = response
            }
            return built
        }

        /// Whether `refusal` is one the app has pages for: ``ProxyRefusal/routeNotFound`` and
        /// ``ProxyRefusal/methodNotAllowed(allowed:)``.
        public static func covers(_ refusal: ProxyRefusal) -> Bool {
            switch refusal {
            case .routeNotFound, .methodNotAllowed: true
            default: false
            }
        }

        /// The app's response to `refusal` for a client sending `accept`, or `nil` (feisty's own text then):
        /// only ``ProxyRefusal/routeNotFound`` and ``ProxyRefusal/methodNotAllowed(allowed:)`` have pages.
        public func response(for refusal: ProxyRefusal, accept: String?) -> Response? {
            switch refusal {
            case .routeNotFound:
                if notFound.isEmpty { return nil }
                return notFound[ClientKind(accept: accept)]
            case .methodNotAllowed:
                if methodNotAllowed.isEmpty { return nil }
                return methodNotAllowed[ClientKind(accept: accept)]
            default:
                return nil
            }
        }

        /// The response head for `response`: the app's headers, the refused route's `Allow` (405) in the app's
        /// format, and `Connection` from the connection's fate.
        public func head(
            _ response: Response,
            refusal: ProxyRefusal,
            version: HTTPVersion,
            close: Bool
        ) -> HTTPResponseHead {
            var headers = response.headers
            if case .methodNotAllowed(let allowed) = refusal {
                headers.add(name: "allow", value: allowed.joined(separator: allowSeparator))
            }
            if close {
                headers.add(name: "connection", value: "close")
            } else if version == .http1_0 {
                headers.add(name: "connection", value: "keep-alive")
            }
            return HTTPResponseHead(version: version, status: response.status, headers: headers)
        }
    }
}

extension Substring.UTF8View.SubSequence {
    fileprivate func trimmingASCIISpaces() -> Substring.UTF8View.SubSequence {
        var view = self
        while let first = view.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            view = view.dropFirst()
        }
        while let last = view.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { view = view.dropLast() }
        return view
    }

    fileprivate func equalsASCIICaseInsensitive(_ other: StaticString) -> Bool {
        guard count == other.utf8CodeUnitCount else { return false }
        return zip(self, UnsafeBufferPointer(start: other.utf8Start, count: other.utf8CodeUnitCount)).allSatisfy {
            $0 | 0x20 == $1 | 0x20
        }
    }

    fileprivate func endsWithASCIICaseInsensitive(_ suffix: StaticString) -> Bool {
        let length = suffix.utf8CodeUnitCount
        guard count >= length else { return false }
        return dropFirst(count - length).equalsASCIICaseInsensitive(suffix)
    }
}

extension AppErrorPages {
    /// Decodes the report's `error_pages` object.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        notFound = try container.decodeIfPresent(Rendering.self, forKey: .notFound)
        methodNotAllowed = try container.decodeIfPresent(Rendering.self, forKey: .methodNotAllowed)
    }
}
