#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// The absolute paths a unit file needs: systemd runs `ExecStart=` without a shell, a `PATH` lookup or the user's
/// current directory.
public enum ExecutablePaths {
    /// The running feisty's own executable (`/proc/self/exe`), else `argv[0]` made absolute.
    public static func ownExecutable() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return absolute(CommandLine.arguments[0])
    }

    /// `path` made absolute against the current directory (already absolute paths are only standardized).
    public static func absolute(_ path: String) -> String {
        let base = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: base).standardizedFileURL.path
    }

    /// The interpreter's real executable: what it reports as `sys.executable` (a pyenv shim or a `python3` on `PATH`
    /// becomes the binary it runs; a virtualenv's python stays the virtualenv's), else the `PATH` lookup.
    /// - Returns: `nil` when `python` cannot be found at all.
    public static func interpreter(_ python: String) async -> String? {
        let executable: Executable = python.contains("/") ? .path(FilePath(absolute(python))) : .name(python)
        let result = try? await Subprocess.run(
            executable,
            arguments: ["-c", "import sys; print(sys.executable)"],
            output: .string(limit: 64 << 10),
            error: .discarded
        )
        if let result, result.terminationStatus.isSuccess {
            let reported = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            if reported.hasPrefix("/") { return reported }
        }
        return lookUp(python)
    }

    /// `name` found in `PATH` as an executable file (a name with a slash is only made absolute).
    public static func lookUp(
        _ name: String,
        path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    ) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? absolute(name) : nil }
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
