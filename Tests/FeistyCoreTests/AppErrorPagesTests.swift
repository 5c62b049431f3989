import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import FeistyCore

@Suite struct AppErrorPagesTests {
    /// What the launcher reports for an app with a JSON handler for API clients, an HTML page for everyone else,
    /// flask-cors, and Werkzeug's 405 (trimmed to what the decoder reads).
    static let report = #"""
        {"not_found": {"rendered": true, "probe": "GET /feisty-0123/0123.html", "outcome": "error",
          "pages": {
            "html": {"status": 404, "headers": [["Content-Type", "text/html; charset=utf-8"],
                     ["Access-Control-Allow-Origin", "*"]], "body_base64": "PGgxPkxvc3Q/PC9oMT4=",
                     "dropped_headers": [], "per_request": []},
            "json": {"status": 404, "headers": [["Content-Type", "application/json"],
                     ["Access-Control-Allow-Origin", "*"]], "body_base64": "eyJlcnJvciI6Im5vdCBmb3VuZCJ9Cg==",
                     "dropped_headers": [], "per_request": []},
            "any": {"status": 404, "headers": [["Content-Type", "text/html; charset=utf-8"],
                     ["Access-Control-Allow-Origin", "*"]], "body_base64": "PGgxPkxvc3Q/PC9oMT4=",
                     "dropped_headers": [], "per_request": []},
            "none": {"status": 404, "headers": [["Content-Type", "text/html; charset=utf-8"],
                     ["Access-Control-Allow-Origin", "*"]], "body_base64": "PGgxPkxvc3Q/PC9oMT4=",
                     "dropped_headers": [], "per_request": []},
            "future": {"status": 404, "headers": [], "body_base64": ""}}},
         "method_not_allowed": {"rendered": true, "probe": "DELETE /items", "outcome": "error",
          "allow": "OPTIONS,GET,HEAD", "allow_separator": ",", "valid_methods": ["GET", "HEAD", "OPTIONS"],
          "pages": {"any": {"status": 405, "headers": [["Content-Type", "text/plain"]], "body_base64": "bm8=",
                    "dropped_headers": [], "per_request": []}}}}
        """#

    static func decode(_ json: String = report) throws -> AppErrorPages {
        try JSONDecoder().decode(AppErrorPages.self, from: Data(json.utf8))
    }

    @Test func decodesTheLaunchersPages() throws {
        let pages = try Self.decode()
        let notFound = try #require(pages.notFound)
        #expect(notFound.rendered && notFound.outcome == .error && notFound.probe == "GET /feisty-0123/0123.html")
        #expect(Set(notFound.pages.keys) == [.html, .json, .any, .none])  // "future" is a kind this version ignores
        let json = try #require(notFound.pages[.json])
        #expect(json.status == 404 && json.isReplayable)
        #expect(String(decoding: json.body, as: UTF8.self) == #"{"error":"not found"}"# + "\n")
        #expect(
            json.headers == [
                .init(name: "Content-Type", value: "application/json"),
                .init(name: "Access-Control-Allow-Origin", value: "*"),
            ]
        )
        let refused = try #require(pages.methodNotAllowed)
        #expect(refused.allow == "OPTIONS,GET,HEAD" && refused.allowSeparator == ",")
        #expect(refused.page(for: .none)?.status == 405)  // no Accept falls back to the */* rendering
        #expect(refused.page(for: .html) == nil)
    }

    @Test func theLaunchReportStaysCompatible() throws {
        let old = #"{"rules": [], "requested": null, "bind": {"unix": "/tmp/s"}}"#
        #expect(try JSONDecoder().decode(LaunchReport.self, from: Data(old.utf8)).errorPages == nil)
        let new = #"{"rules": [], "requested": null, "bind": {"unix": "/tmp/s"}, "error_pages": "# + Self.report + "}"
        let report = try JSONDecoder().decode(LaunchReport.self, from: Data(new.utf8))
        #expect(report.errorPages == (try Self.decode()))
        let unrendered =
            #"{"not_found": {"rendered": false, "reason": "a declared rule matches any path"},"#
            + #" "method_not_allowed": {"rendered": false, "reason": "no rule"}}"#
        let nothing = try Self.decode(unrendered)
        #expect(nothing.notFound?.reason == "a declared rule matches any path")
        #expect(nothing.prebuilt().isEmpty)
    }

    @Test(
        arguments: [
            (nil, AppErrorPages.ClientKind.none),
            ("", .none),
            ("  ", .none),
            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", .html),  // Firefox, Chrome
            ("application/json", .json),
            ("application/json, text/plain, */*", .json),  // axios
            ("application/problem+json", .json),
            ("Application/JSON", .json),
            ("application/json, text/html", .html),  // Flask's accept_json and not accept_html: the page
            ("text/html;q=0, application/json", .json),  // refused ranges do not count
            ("text/html; q=0.0", .any),
            ("*/*", .any),
            ("text/plain", .any),
            ("image/avif,image/webp,*/*", .any),
            ("application/xhtml+xml", .html),
        ] as [(String?, AppErrorPages.ClientKind)]
    )
    func classifiesAccept(accept: String?, kind: AppErrorPages.ClientKind) {
        #expect(AppErrorPages.ClientKind(accept: accept) == kind)
    }

    @Test func prebuildsOnePagePerDistinctRenderingAndPicksByAccept() throws {
        let prebuilt = try Self.decode().prebuilt()
        let browser = try #require(prebuilt.response(for: .routeNotFound, accept: "text/html"))
        let api = try #require(prebuilt.response(for: .routeNotFound, accept: "application/json"))
        let curl = try #require(prebuilt.response(for: .routeNotFound, accept: "*/*"))
        let bare = try #require(prebuilt.response(for: .routeNotFound, accept: nil))
        #expect(browser.body == curl.body && curl.body == bare.body)
        #expect(String(buffer: api.body) == #"{"error":"not found"}"# + "\n")
        #expect(api.headers["content-type"] == ["application/json"])
        #expect(api.headers["content-length"] == ["22"])
        #expect(api.headers["access-control-allow-origin"] == ["*"])
        #expect(prebuilt.response(for: .appUnavailable, accept: nil) == nil)  // only 404 and 405 are the app's
        #expect(prebuilt.response(for: .methodNotAllowed(allowed: ["GET"]), accept: "text/html") == nil)
    }

    @Test func theHeadCarriesTheRefusedRoutesAllowInTheAppsFormat() throws {
        let prebuilt = try Self.decode().prebuilt()
        let refusal = ProxyRefusal.methodNotAllowed(allowed: ["GET", "HEAD", "OPTIONS", "POST"])
        let page = try #require(prebuilt.response(for: refusal, accept: "*/*"))
        let head = prebuilt.head(page, refusal: refusal, version: .http1_1, close: true)
        #expect(head.status == .methodNotAllowed)
        #expect(head.headers["allow"] == ["GET,HEAD,OPTIONS,POST"])
        #expect(head.headers["connection"] == ["close"])
        #expect(head.headers["content-type"] == ["text/plain"])
        let keepAlive = prebuilt.head(page, refusal: refusal, version: .http1_0, close: false)
        #expect(keepAlive.headers["connection"] == ["keep-alive"])
    }

    @Test(
        arguments: [
            (404, [], true),
            (410, [], true),
            (302, [], false),  // a redirect to the login page is the app's to give
            (200, [], false),  // a catch-all page
            (500, [], false),  // the app's hooks raised while rendering
            (404, ["the body names the request (feisty-0123)"], false),
        ] as [(Int, [String], Bool)]
    )
    func onlyClientErrorsTheAppGivesEveryRequestAreReplayed(status: Int, perRequest: [String], replayed: Bool) {
        let page = AppErrorPages.Page(status: status, headers: [], body: Array("x".utf8), perRequest: perRequest)
        #expect(page.isReplayable == replayed)
        let pages = AppErrorPages(
            notFound: .init(rendered: true, pages: [.any: page]),
            methodNotAllowed: nil
        )
        #expect((pages.prebuilt().response(for: .routeNotFound, accept: "*/*") != nil) == replayed)
    }
}
