#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import NIOCore

/// The part of one app answer that a slow client has not taken yet and that no longer fits in memory
/// (`--response-buffer`): appended to an unnamed file as the app writes it, and handed to the client connection as
/// file regions (sent with `sendfile`, no copy back into memory) whenever the connection drains. The app is thus
/// read as fast as it writes and its worker is released, as nginx's `proxy_buffering` does. Writes go to the page
/// cache on the event loop, as nginx writes its temporary files.
final class ResponseSpill {
    private let file: NIOFileHandle
    private let descriptor: CInt
    /// Bytes appended so far.
    private(set) var written: Int64 = 0
    /// Bytes handed to the connection as file regions so far.
    private(set) var handedOver: Int64 = 0
    private var closed = false

    /// Opens an unnamed file (`O_TMPFILE`) in `directory`: nothing is left behind whatever happens to feisty.
    /// - Throws: `IOError` when the file cannot be created.
    init(directory: String) throws {
        // O_TMPFILE is a macro Swift does not import: __O_TMPFILE (0o20000000) | O_DIRECTORY on Linux.
        let descriptor = open(directory, 0o20_000_000 | O_DIRECTORY | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open(O_TMPFILE) in \(directory)") }
        self.descriptor = descriptor
        self.file = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

    /// Bytes spilled and not yet handed to the connection.
    var pending: Int64 { written - handedOver }

    /// Appends `bytes` at the end of the file.
    /// - Throws: `IOError` (disk full, ...): the caller then keeps the bytes in memory instead.
    func append(_ bytes: ByteBuffer) throws {
        try bytes.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let result = pwrite(descriptor, raw.baseAddress! + offset, raw.count - offset, off_t(written))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw IOError(errnoCode: errno, reason: "pwrite to a response spill file")
                }
                offset += result
                written += Int64(result)
            }
        }
    }

    /// The spilled bytes not handed over yet, as one file region (`nil` when there are none).
    func takeRegion() -> FileRegion? {
        guard pending > 0 else { return nil }
        let region = FileRegion(fileHandle: file, readerIndex: Int(handedOver), endIndex: Int(written))
        handedOver = written
        return region
    }

    /// Closes the file (once every region handed over has been written or failed).
    func close() {
        guard !closed else { return }
        closed = true
        try? file.close()
    }
}
