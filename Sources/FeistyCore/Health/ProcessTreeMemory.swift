#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The resident memory of an app instance: every process in its process group, read from `/proc`.
///
/// An instance runs in its own session, so its process group holds the server and whatever it forked (gunicorn
/// workers, a multiprocessing pool). The sum is of each process's RSS: pages shared between a parent and its forked
/// children count once per process, so it over-estimates what freeing the group would return. That is the cheap
/// figure (one `/proc/PID/stat` read per process); the exact one, `Pss` from `smaps_rollup`, makes the kernel walk
/// every mapping and costs far more at one sample a second per instance.
public enum ProcessTreeMemory {
    /// The resident bytes of the live processes in one process group.
    ///
    /// One scan of `/proc`: a directory read plus one `open`/`read`/`close` of `stat` per process, with no
    /// allocation per process. Zombies count as gone: they hold no memory and their group is about to be reaped.
    /// - Parameter pgid: The process group id (the instance's session leader's pid).
    /// - Returns: The summed RSS in bytes, or nil when no live process is in the group (or `/proc` is unreadable).
    public static func residentBytes(ofProcessGroup pgid: Int32) -> Int64? {
        var total: Int64 = 0
        var found = false
        scanProcesses { group, residentPages in
            if group == pgid {
                found = true
                total += residentPages
            }
        }
        return found ? total * pageSize : nil
    }

    /// The resident bytes of several process groups in one scan of `/proc`.
    ///
    /// For a supervisor with several instances: one scan a second instead of one per instance.
    /// - Parameter pgids: The process group ids.
    /// - Returns: The summed RSS in bytes for each group that has a live process; absent groups are missing.
    public static func residentBytes(ofProcessGroups pgids: Set<Int32>) -> [Int32: Int64] {
        var pages: [Int32: Int64] = [:]
        scanProcesses { group, residentPages in
            if pgids.contains(group) {
                pages[group, default: 0] += residentPages
            }
        }
        return pages.mapValues { $0 * pageSize }
    }

    /// The system page size: `stat` counts RSS in pages.
    static let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))

    /// What one `/proc/PID/stat` line says about memory.
    struct StatFields: Hashable {
        /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
        var state: UInt8
        /// Field 5.
        var processGroup: Int32
        /// Field 24, in pages.
        var residentPages: Int64
    }

    /// Reads the fields after the command name of one `stat` line.
    ///
    /// The command (field 2) is in parentheses and may itself hold spaces and `)`, so the fields start after the
    /// last `)` of the line; the later fields are numbers and never hold one.
    /// - Parameter line: The bytes read from `/proc/PID/stat`.
    /// - Returns: The fields, or nil when the line is cut short or malformed.
    static func parseStat(_ line: UnsafeRawBufferPointer) -> StatFields? {
        guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2
        var index = close + 1
        var state: UInt8 = 0
        var processGroup: Int64 = 0
        while index < line.count {
            // Skip the separating spaces, then read one field.
            while index < line.count, line[index] == UInt8(ascii: " ") { index += 1 }
            guard index < line.count else { break }
            field += 1
            let start = index
            while index < line.count, line[index] != UInt8(ascii: " "), line[index] != UInt8(ascii: "\n") {
                index += 1
            }
            switch field {
            case 3:
                state = line[start]
            case 5:
                guard let value = decimal(line, start..<index) else { return nil }
                processGroup = value
            case 24:
                guard let residentPages = decimal(line, start..<index), let group = Int32(exactly: processGroup)
                else { return nil }
                return StatFields(state: state, processGroup: group, residentPages: residentPages)
            default:
                break
            }
            if index < line.count, line[index] == UInt8(ascii: "\n") { break }
        }
        return nil
    }

    /// A non-negative decimal integer.
    private static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard !range.isEmpty else { return nil }
        var value: Int64 = 0
        for index in range {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(Int64(digit))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }

    /// Calls `body` with the process group and resident pages of every live process.
    ///
    /// A process that exits during the scan is skipped (its `stat` no longer opens).
    private static func scanProcesses(_ body: (_ group: Int32, _ residentPages: Int64) -> Void) {
        guard let directory = opendir("/proc") else { return }
        defer { closedir(directory) }
        let directoryDescriptor = dirfd(directory)
        // One buffer for the relative path (`PID/stat`) and for the line: 1 KiB holds the first 24 fields of any
        // stat line (a 15-byte command and at most 20 digits per number).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            while let entry = readdir(directory) {
                let pathLength = withUnsafeBytes(of: entry.pointee.d_name) { name -> Int in
                    var length = 0
                    while length < name.count, name[length] != 0 {
                        // Only numeric entries are processes (`self`, `sys`, ... are not).
                        guard name[length] &- UInt8(ascii: "0") < 10 else { return 0 }
                        buffer[length] = name[length]
                        length += 1
                    }
                    return length
                }
                guard pathLength > 0 else { continue }
                for (offset, byte) in "/stat\0".utf8.enumerated() {
                    buffer[pathLength + offset] = byte
                }
                let descriptor = buffer.withMemoryRebound(to: CChar.self) { path in
                    openat(directoryDescriptor, path.baseAddress!, O_RDONLY | O_CLOEXEC)
                }
                guard descriptor >= 0 else { continue }
                let count = read(descriptor, buffer.baseAddress!, buffer.count)
                close(descriptor)
                guard count > 0 else { continue }
                let line = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count)
                guard let fields = parseStat(line), fields.state != UInt8(ascii: "Z"), fields.state != UInt8(ascii: "X")
                else { continue }
                body(fields.processGroup, fields.residentPages)
            }
        }
    }
}
