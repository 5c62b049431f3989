import Foundation

/// Where feisty keeps its state when `--state-dir` is not given.
public enum StateDirectory {
    /// `/var/lib/feisty` for root; otherwise `$XDG_STATE_HOME/feisty`, else `~/.local/state/feisty`.
    /// - Parameters:
    ///   - environment: The process environment (`XDG_STATE_HOME`, `HOME`).
    ///   - isRoot: Whether feisty runs as root (effective user id 0).
    public static func defaultPath(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        isRoot: Bool = geteuid() == 0
    ) -> String {
        if isRoot { return "/var/lib/feisty" }
        // The XDG spec ignores a relative value.
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/feisty" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/feisty"
    }
}
