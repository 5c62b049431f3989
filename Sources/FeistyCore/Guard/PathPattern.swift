/// One path pattern of `CanaryPaths` or `BrowserPaths`, matched against a request path (the target up to `?`,
/// as sent, not percent-decoded) with ASCII letters compared case-insensitively (scanners vary the case:
/// `/phpMyAdmin/`, `/WP-LOGIN.PHP`).
///
/// Spelling: `/wp-login.php` is exact; a trailing `/` (`/.git/`) matches the folder itself with or without the
/// slash and everything below it; one `*` matches any run of characters (`/apple-touch-icon*.png`, `/backup*`).
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    private let head: String
    private let tail: String?
    private let folder: Bool

    /// Parses a pattern, or says why it is not one.
    public static func parse(_ text: String) -> Result<PathPattern, PatternProblem> {
        guard text.hasPrefix("/") else { return .failure(PatternProblem(reason: "does not start with /")) }
        guard !text.contains(where: { $0 == " " || $0 == "\t" || $0 == "?" }) else {
            return .failure(PatternProblem(reason: "contains a space or ?"))
        }
        let stars = text.filter { $0 == "*" }.count
        guard stars <= 1 else { return .failure(PatternProblem(reason: "more than one *")) }
        return .success(PathPattern(valid: text))
    }

    /// Why a pattern was refused.
    public struct PatternProblem: Error, Sendable, Hashable {
        /// A few words for the error line.
        public let reason: String
    }

    /// Creates a pattern known to be valid (the built-in lists).
    init(valid text: String) {
        self.text = text
        let lowered = text.lowercased()
        if let star = lowered.firstIndex(of: "*") {
            head = String(lowered[..<star])
            tail = String(lowered[lowered.index(after: star)...])
            folder = false
        } else {
            head = lowered
            tail = nil
            folder = lowered.hasSuffix("/") && lowered.count > 1
        }
    }

    /// Whether `path` (already lowercased) matches.
    func matches(lowercased path: Substring) -> Bool {
        if let tail {
            return path.count >= head.count + tail.count && path.hasPrefix(head) && path.hasSuffix(tail)
        }
        if folder { return path.hasPrefix(head) || path == head.dropLast() }
        return path == head
    }

    public var description: String { text }
}

extension PathPattern {
    /// The path part of a request target (up to `?` or `#`), lowercased, for matching.
    static func loweredPath(of target: String) -> Substring {
        let path = target.prefix { $0 != "?" && $0 != "#" }
        return Substring(path.lowercased())
    }
}
