import Foundation

/// Well-known scanner targets: a request to one the app does not declare weighs `--max-strikes` at once.
///
/// The built-in list covers secrets and VCS files, PHP admin tools, WordPress, CGI, PHPUnit's eval-stdin, cloud
/// credentials and Spring actuators; `--canary-file` adds patterns (see `PathPattern` for the spelling and the case
/// rule). The app's own routes always win: the caller passes the gate's verdict and a declared path is no canary.
public struct CanaryPaths: Sendable {
    /// The patterns, built-in first.
    public let patterns: [PathPattern]

    /// The built-in patterns.
    public static let builtInPatterns: [String] = [
        "/.env", "/.env.*", "/.git/", "/.svn/", "/.hg/", "/.DS_Store", "/.htaccess", "/.htpasswd",
        "/.aws/", "/.ssh/", "/.docker/", "/.kube/", "/.npmrc", "/.bash_history",
        "/wp-login.php", "/wp-admin/", "/wp-content/", "/wp-includes/", "/wp-config.php*", "/xmlrpc.php",
        "/wordpress/", "/phpmyadmin/", "/pma/", "/myadmin/", "/phpinfo.php", "/info.php", "/adminer.php",
        "/cgi-bin/", "/vendor/phpunit/", "/phpunit/", "/actuator/", "/HNAP1/", "/boaform/", "/solr/admin/",
        "/config.json", "/server-status", "/.vscode/", "/.idea/", "/backup.sql", "/dump.sql", "/owa/",
        "/autodiscover/autodiscover.xml", "/console/", "/manager/html", "/shell.php", "/setup.php",
    ]

    /// The built-in list alone.
    public static let builtIn = CanaryPaths(patterns: builtInPatterns.map(PathPattern.init(valid:)))

    /// A list of the given patterns.
    public init(patterns: [PathPattern]) {
        self.patterns = patterns
    }

    /// The built-in list plus the patterns of a `--canary-file`: one pattern per line; blank lines and lines
    /// starting with `#` are skipped, and so is the rest of a line after ` #`.
    /// - Throws: `GuardError.invalidCanaryPattern` naming the first bad line.
    public init(builtInPlus fileText: String, file: String) throws(GuardError) {
        var patterns = Self.builtIn.patterns
        for (index, rawLine) in fileText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let comment = line.range(of: " #") { line = line[..<comment.lowerBound] }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            switch PathPattern.parse(trimmed) {
            case .success(let pattern): patterns.append(pattern)
            case .failure(let problem):
                throw .invalidCanaryPattern(file: file, line: index + 1, text: trimmed, reason: problem.reason)
            }
        }
        self.patterns = patterns
    }

    /// Reads a `--canary-file`.
    /// - Throws: `GuardError.unreadableFile` or `.invalidCanaryPattern`.
    public static func load(file path: String) throws(GuardError) -> CanaryPaths {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: path, reason: FileReadFailure.reason(error, path: path))
        }
        return try CanaryPaths(builtInPlus: text, file: path)
    }

    /// The pattern `target`'s path matches, if any.
    public func pattern(matching target: String) -> PathPattern? {
        let path = PathPattern.loweredPath(of: target)
        return patterns.first { $0.matches(lowercased: path) }
    }
}

/// A short reason for a failed file read: "no such file" rather than Foundation's long sentence.
enum FileReadFailure {
    static func reason(_ error: any Error, path: String) -> String {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) { return "no such file" }
        if isFolder.boolValue { return "is a folder" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "not UTF-8 text"
    }
}
