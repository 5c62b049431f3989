/// Paths browsers and crawlers request on their own, whatever the page links to: never a strike unless the app
/// declares them (then they are ordinary routes anyway). Matching as in `PathPattern`.
public enum BrowserPaths {
    /// The patterns: icons, `robots.txt`, `sitemap.xml` and RFC 8615 `/.well-known/` URIs (change-password,
    /// security.txt, Chrome DevTools' and Apple's probes).
    public static let patterns: [PathPattern] = [
        "/favicon.ico", "/favicon.png", "/favicon.svg", "/robots.txt", "/sitemap.xml", "/apple-touch-icon*.png",
        "/browserconfig.xml", "/manifest.json", "/site.webmanifest", "/.well-known/",
    ].map(PathPattern.init(valid:))

    /// Whether a browser may ask for `target` unprompted.
    public static func contains(_ target: String) -> Bool {
        let path = PathPattern.loweredPath(of: target)
        return patterns.contains { $0.matches(lowercased: path) }
    }
}
