#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// A `feisty run` process found on this machine (for `feisty reload`): its PID and command line.
public struct RunningFeisty: Sendable, Hashable {
    /// The process ID.
    public var processID: Int32
    /// Its arguments after `run`.
    public var arguments: [String]

    /// Every `feisty run` process of this machine that launches its app (not `--upstream`), except this process.
    /// Read from `/proc/PID/cmdline`: no PID file to go stale.
    public static func all() -> [RunningFeisty] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [RunningFeisty] = []
        let me = getpid()
        for entry in entries {
            guard let pid = Int32(entry), pid != me,
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let words = data.split(separator: 0, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard words.count >= 3, (words[0] as NSString).lastPathComponent == "feisty", words[1] == "run" else {
                continue
            }
            let arguments = Array(words.dropFirst(2)).filter { !$0.isEmpty }
            if arguments.contains(where: { $0 == "--upstream" || $0.hasPrefix("--upstream=") }) { continue }
            found.append(RunningFeisty(processID: pid, arguments: arguments))
        }
        return found.sorted { $0.processID < $1.processID }
    }

    /// The value of `--listen` on its command line, if given.
    public var listen: String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--listen", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--listen=") { return String(argument.dropFirst("--listen=".count)) }
        }
        return nil
    }

    /// Picks the one to reload: the only one, or the only one serving `app` (as given on its command line) and
    /// listening on `listen` (its `--listen`).
    /// - Returns: The process, or why none can be chosen.
    public static func choose(
        from candidates: [RunningFeisty],
        app: String?,
        listen: String? = nil
    ) -> Result<RunningFeisty, ReloadError> {
        var matching = app.map { app in candidates.filter { $0.arguments.contains(app) } } ?? candidates
        if let listen { matching = matching.filter { $0.listen == listen } }
        switch matching.count {
        case 1: return .success(matching[0])
        case 0:
            let what = [app.map { "serves \($0)" }, listen.map { "listens on \($0)" }].compactMap { $0 }
            return .failure(
                ReloadError(
                    what.isEmpty
                        ? "no `feisty run` is running" : "no running `feisty run` \(what.joined(separator: " and "))"
                )
            )
        default:
            let list = matching.map { "\($0.processID) (\($0.arguments.joined(separator: " ")))" }.joined(
                separator: ", "
            )
            return .failure(ReloadError("several `feisty run` processes match: \(list); name the app or pass --pid"))
        }
    }
}

/// Why `feisty reload` cannot reload.
public struct ReloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A one-line explanation.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
