import Testing

@testable import FeistyCore

@Suite struct RouteMatchingTests {
    @Test func strictSlashesRedirectAndNonStrictMatch() throws {
        var loose = rule("/s", "s")
        loose.strictSlashes = false
        let matcher = try routeMatcher([rule("/d/", "d"), loose, rule("/f/<path:p>/", "f")])
        #expect(matcher.match(method: "GET", target: "/d?x=1") == .redirect(location: "http://localhost/d/?x=1"))
        #expect(matched(matcher.match(method: "GET", target: "/s/"))?.0 == "s")
        #expect(matcher.match(method: "GET", target: "/f/a/b") == .redirect(location: "http://localhost/f/a/b/"))
        #expect(matched(matcher.match(method: "GET", target: "/f/a/b/"))?.1 == ["p": .string("a/b")])
        #expect(matcher.gate(method: "GET", target: "/d") == .forward(rule: nil))  // Werkzeug redirects to /d/
    }

    @Test func mergeSlashesRedirectsUnlessTheRuleOptsOut() throws {
        var keep = rule("/k/x", "k")
        keep.mergeSlashes = false
        let matcher = try routeMatcher([rule("/a/b", "a"), keep])
        #expect(matcher.match(method: "GET", target: "/a//b") == .redirect(location: "http://localhost/a/b"))
        #expect(matcher.match(method: "GET", target: "/k//x") == .notFound)
        #expect(matched(matcher.match(method: "GET", target: "//a/b"))?.0 == "a")  // leading slashes are stripped
    }

    @Test func methodNotAllowedListsSortedMethods() throws {
        let matcher = try routeMatcher([
            rule("/x", "a", methods: ["POST"]), rule("/x", "b", methods: ["PUT", "DELETE"]),
        ])
        #expect(matcher.match(method: "GET", target: "/x") == .methodNotAllowed(allowed: ["DELETE", "POST", "PUT"]))
        #expect(matcher.gate(method: "get", target: "/x") == .methodNotAllowed(allowed: ["DELETE", "POST", "PUT"]))
        #expect(matched(matcher.match(method: "put", target: "/x"))?.0 == "b")
        let head = try routeMatcher([rule("/h", "h")])
        #expect(matched(head.match(method: "HEAD", target: "/h"))?.0 == "h")
    }

    @Test func redirectsForDefaultsAliasesAndRedirectTo() throws {
        var all = rule("/all/", "all")
        all.defaults = ["page": .int(1)]
        var old = rule("/old/<int:n>", "c")
        old.alias = true
        var moved = rule("/r/<n>", "r")
        moved.redirectTo = "other/<n>"
        let matcher = try routeMatcher([
            all, rule("/all/page/<int:page>", "all"), old, rule("/new/<int:n>", "c"), moved,
        ])
        #expect(matcher.match(method: "GET", target: "/all/page/1") == .redirect(location: "http://localhost/all/"))
        #expect(matched(matcher.match(method: "GET", target: "/all/page/2"))?.1 == ["page": .int(2)])
        #expect(matched(matcher.match(method: "GET", target: "/all/"))?.1 == ["page": .int(1)])
        #expect(matcher.match(method: "GET", target: "/old/5?q") == .redirect(location: "http://localhost/new/5?q"))
        #expect(matcher.match(method: "GET", target: "/r/x%20y") == .redirect(location: "http://localhost/other/x%20y"))
        #expect(matcher.gate(method: "GET", target: "/r/x").forwards)
    }

    @Test func hostMatchingAndSubdomains() throws {
        var hosted = rule("/", "sub")
        hosted.host = "<sub>.example.com"
        let byHost = try routeMatcher([hosted]) { $0.hostMatching = true }
        #expect(
            matched(byHost.match(method: "GET", target: "/", host: "API.example.com"))?.1 == ["sub": .string("api")]
        )
        #expect(byHost.match(method: "GET", target: "/", host: "example.org") == .notFound)

        var api = rule("/", "api")
        api.subdomain = "api"
        let bySubdomain = try routeMatcher([api, rule("/", "root")]) {
            $0.subdomainMatching = true
            $0.serverName = "example.com:5000"
        }
        #expect(matched(bySubdomain.match(method: "GET", target: "/", host: "api.example.com:5000"))?.0 == "api")
        #expect(matched(bySubdomain.match(method: "GET", target: "/", host: "example.com:5000"))?.0 == "root")
        #expect(bySubdomain.match(method: "GET", target: "/", host: "other.org") == .notFound)  // "<invalid>"
        // Without subdomain matching Flask binds every host to the default subdomain.
        let plain = try routeMatcher([api, rule("/", "root")])
        #expect(matched(plain.match(method: "GET", target: "/", host: "api.example.com"))?.0 == "root")
        // Map.bind's IDNA check: an empty label is Werkzeug's BadHost (a 400), never a match.
        #expect(plain.gate(method: "GET", target: "/", host: "a..b") == .badHost)
        #expect(plain.match(method: "GET", target: "/", host: "a..b") == .badHost)
    }

    @Test func decodesTargetsLikeTheDevServer() throws {
        let matcher = try routeMatcher([rule("/a/<x>", "a"), rule("/a/<x>/<y>", "b"), rule("/<path:p>", "p")])
        #expect(matched(matcher.match(method: "GET", target: "/a/b%2Fc"))?.0 == "b")  // %2F is decoded first
        #expect(matched(matcher.match(method: "GET", target: "/a/%FF"))?.1 == ["x": .string("\u{FFFD}")])
        #expect(matched(matcher.match(method: "GET", target: "/a/x#frag?no"))?.1 == ["x": .string("x")])
        #expect(matched(matcher.match(method: "GET", target: "http://example.com/a/y?z"))?.1 == ["x": .string("y")])
        #expect(matched(matcher.match(method: "GET", target: "/a/%E2%82"))?.1 == ["x": .string("\u{FFFD}")])
        #expect(matched(matcher.match(method: "GET", target: "/a/1+2"))?.1 == ["x": .string("1+2")])
        #expect(matcher.match(method: "GET", target: "/a/.%2E/q") != .notFound)
    }

    @Test func gateAgreesWithMatch() throws {
        var loose = rule("/s", "s")
        loose.strictSlashes = false
        let matcher = try routeMatcher([
            rule("/", "i"), rule("/user/<username>", "u"), rule("/<int(max=2000):year>", "y"), rule("/d/", "d"),
            rule("/x", "x", methods: ["POST"]), loose,
        ])
        let targets = [
            "/", "/user/a", "/user/", "/1999", "/2001", "/d", "/d/", "/x", "/s/", "//user//b", "/%75ser/c", "/nope",
        ]
        for target in targets {
            for method in ["GET", "POST", "DELETE"] {
                let expected: RouteGateDecision
                switch matcher.match(method: method, target: target) {
                case .match(_, let rule, _): expected = .forward(rule: rule)
                case .redirect, .websocketMismatch: expected = .forward(rule: nil)
                case .notFound: expected = .notFound
                case .badHost: expected = .badHost
                case .methodNotAllowed(let allowed): expected = .methodNotAllowed(allowed: allowed)
                }
                #expect(matcher.gate(method: method, target: target) == expected, "\(method) \(target)")
            }
        }
    }
}
