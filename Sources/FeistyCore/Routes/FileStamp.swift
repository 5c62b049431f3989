#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a file or folder looked like when feisty's probe read it (or found it missing): the route cache's
/// evidence that nothing an extraction read has changed since.
///
/// Size, modification and status-change times in nanoseconds, inode and device: a rewrite changes the
/// status-change time even when `touch` puts the modification time back, and a replaced file has another inode.
/// The probe writes it as a JSON array `[path, kind, size, mtime_ns, ctime_ns, inode, device]`.
public struct FileStamp: Sendable, Hashable, Codable {
    /// What was at the path.
    public enum Kind: String, Sendable, Codable {
        case file, directory, absent
    }

    public var path: String
    public var kind: Kind
    public var size: Int64
    public var modified: Int64
    public var changed: Int64
    public var inode: UInt64
    public var device: UInt64

    /// Creates a stamp from its parts.
    public init(
        path: String,
        kind: Kind,
        size: Int64 = 0,
        modified: Int64 = 0,
        changed: Int64 = 0,
        inode: UInt64 = 0,
        device: UInt64 = 0
    ) {
        self.path = path
        self.kind = kind
        self.size = size
        self.modified = modified
        self.changed = changed
        self.inode = inode
        self.device = device
    }

    /// The stamp of `path` now (`.absent` when it cannot be examined).
    public static func current(path: String) -> FileStamp {
        var status = stat()
        guard stat(path, &status) == 0 else { return FileStamp(path: path, kind: .absent) }
        let isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
        return FileStamp(
            path: path,
            kind: isDirectory ? .directory : .file,
            size: Int64(status.st_size),
            modified: Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec),
            changed: Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec),
            inode: UInt64(status.st_ino),
            device: UInt64(status.st_dev)
        )
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        path = try c.decode(String.self)
        kind = try c.decode(Kind.self)
        size = try c.decode(Int64.self)
        modified = try c.decode(Int64.self)
        changed = try c.decode(Int64.self)
        inode = try c.decode(UInt64.self)
        device = try c.decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(path)
        try c.encode(kind)
        try c.encode(size)
        try c.encode(modified)
        try c.encode(changed)
        try c.encode(inode)
        try c.encode(device)
    }
}
