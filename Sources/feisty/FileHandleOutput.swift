import Foundation

/// Writes whole lines straight to stdout/stderr (unbuffered, so they never interleave with the app's lines).
enum FileHandleOutput {
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
