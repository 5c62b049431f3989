import Foundation

/// feisty's own resident memory, from `/proc/self/statm` (`nil` where there is no procfs).
enum OwnMemory {
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(ProcessTreeMemory.pageSize)
    }

    /// Open sockets of feisty (every listener and connection, both sides of the proxy), counted in `/proc/self/fd`.
    static func openSockets() -> Int? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        var sockets = 0
        for entry in entries {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"),
                target.hasPrefix("socket:")
            {
                sockets += 1
            }
        }
        return sockets
    }
}
