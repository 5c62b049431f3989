import Foundation
import GRDB
import GRDBSQLite

/// The durable ban list: one SQLite file (`bans.sqlite`, WAL mode) in the state directory, shared by the running
/// feisty and the `feisty bans` commands.
///
/// Every method is synchronous and blocking (SQLite I/O): call it from a task or an actor, never on an event loop.
/// Writes commit with `synchronous = FULL`, so a ban `add` returned is on disk, surviving a `kill -9` and a power
/// loss, before the caller enforces it. Several instances, in one process or several, may use one file: WAL lets
/// readers go on while one writes, and a writer waits up to 5 s for another's lock.
///
/// Bounded growth: expired bans go with `pruneExpired(before:)`; strikes with `pruneStrikes(before:keepingAtMost:)`
/// (strikes older than the find-time window count for nothing); repeat counts stay, one short row per key ever
/// banned automatically, since they are what doubles a returning scanner's ban.
public final class BanStore: Sendable {
    /// The name of the database file inside the state directory.
    public static let fileName = "bans.sqlite"

    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating when needed) the store in `directory`, and migrates it to this feisty's schema.
    /// - Throws: `StoreError.unwritableDirectory`, `.corruptFile`, `.newerSchema`, `.database`.
    public init(directory: String) throws(StoreError) {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        try Self.prepare(directory: directory)
        var configuration = Configuration()
        configuration.label = "feisty.bans"
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // In WAL mode NORMAL already survives a process crash; FULL also survives a power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = BanStoreSchema.migrator
            let unknown = try pool.read { db in
                try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
            }
            if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknownMigrations: unknown.sorted()) }
            try migrator.migrate(pool)
        } catch {
            throw Self.storeError(error, path: path, directory: directory)
        }
    }

    // MARK: Bans

    /// The bans in force at `now`, in no particular order: what a starting feisty loads.
    public func activeBans(at now: Date) throws(StoreError) -> [Ban] {
        try perform { try pool.read { db in try Self.fetchActive(db, at: now) } }
    }

    /// The bans in force at `now` with their keys' repeat counts, sorted by key: what `feisty bans list` shows.
    public func records(at now: Date) throws(StoreError) -> [BanRecord] {
        try recordsInForce(at: now, limit: nil).sorted { $0.ban.key < $1.ban.key }
    }

    /// The `limit` most recent bans in force at `now` with their repeat counts, newest first (the admin API's
    /// `/status`: SQLite keeps only the newest while it scans, however many bans there are).
    public func recentRecords(at now: Date, limit: Int) throws(StoreError) -> [BanRecord] {
        try recordsInForce(at: now, limit: limit)
    }

    /// The bans in force at `now` with their repeat counts; with a `limit`, only that many of the newest, newest first.
    private func recordsInForce(at now: Date, limit: Int?) throws(StoreError) -> [BanRecord] {
        try perform {
            try pool.read { db in
                var sql = """
                    SELECT b.key, b.since, b.until, b.reason, b.evidence, b.source, coalesce(r.count, 0)
                    FROM bans b LEFT JOIN repeat_counts r ON r.key = b.key
                    WHERE b.until IS NULL OR b.until > ?
                    """
                var arguments: StatementArguments = [now.timeIntervalSince1970]
                if let limit {
                    sql += " ORDER BY b.since DESC LIMIT ?"
                    arguments += [limit]
                }
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                var records: [BanRecord] = []
                while let row = try rows.next() {
                    guard let ban = Self.ban(from: row) else { continue }
                    records.append(BanRecord(ban: ban, repeatCount: row[6]))
                }
                return records
            }
        }
    }

    /// Records a ban, replacing any ban on the same key, and returns it with its key's repeat count. The ban is
    /// committed to disk when this returns. An automatic ban counts one more repeat for its key.
    @discardableResult
    public func add(_ ban: Ban) throws(StoreError) -> BanRecord {
        try add(contentsOf: [ban])[0]
    }

    /// Records many bans in one transaction (one disk sync); see `add(_:)`.
    @discardableResult
    public func add(contentsOf bans: [Ban]) throws(StoreError) -> [BanRecord] {
        try perform { try pool.write { db in try Self.insert(bans, db) } }
    }

    private static func insert(_ bans: [Ban], _ db: Database) throws -> [BanRecord] {
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO bans (key, net_high, net_low, prefix, since, until, reason, evidence, source)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET since = excluded.since, until = excluded.until,
                    reason = excluded.reason, evidence = excluded.evidence, source = excluded.source
                """
        )
        let count = try db.cachedStatement(
            sql: """
                INSERT INTO repeat_counts (key, count, last_ban) VALUES (?, 1, ?)
                ON CONFLICT (key) DO UPDATE SET count = count + 1, last_ban = excluded.last_ban
                RETURNING count
                """
        )
        var records: [BanRecord] = []
        records.reserveCapacity(bans.count)
        for ban in bans {
            let key = ban.key.description
            let bits = ban.key.network.network.bits
            try upsert.execute(arguments: [
                key, Int64(bitPattern: UInt64(truncatingIfNeeded: bits >> 64)),
                Int64(bitPattern: UInt64(truncatingIfNeeded: bits)), ban.key.network.prefixLength,
                ban.since.timeIntervalSince1970, ban.until?.timeIntervalSince1970, ban.reason,
                ban.evidence, ban.source.rawValue,
            ])
            let repeats: Int
            if ban.source == .automatic {
                repeats = try Int.fetchOne(count, arguments: [key, ban.since.timeIntervalSince1970]) ?? 1
            } else {
                repeats = try Self.repeatCount(db, key: key)
            }
            records.append(BanRecord(ban: ban, repeatCount: repeats))
        }
        return records
    }

    /// Records one ban (as `add(_:)`) and says which generation the store is at afterwards, when that generation
    /// holds no change but this one since `generation` (the caller's view is then current without re-reading the
    /// bans); `nil` when someone else changed the bans meanwhile.
    public func add(_ ban: Ban, knownGeneration generation: Int64) throws(StoreError) -> (BanRecord, Int64?) {
        try perform {
            try pool.writeWithoutTransaction { db in
                var result: (BanRecord, Int64?)?
                try db.inTransaction(.immediate) {
                    let before = try Self.generation(db)
                    let record = try Self.insert([ban], db)[0]
                    let after = try Self.generation(db)
                    result = (record, before == generation ? after : nil)
                    return .commit
                }
                return result!
            }
        }
    }

    /// Lifts the ban on exactly `key` (not on blocks inside or around it). Its repeat count stays.
    /// - Returns: Whether there was such a ban.
    @discardableResult
    public func remove(key: BanKey) throws(StoreError) -> Bool {
        try perform {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM bans WHERE key = ?", arguments: [key.description])
                return db.changesCount > 0
            }
        }
    }

    /// How many automatic bans `key` has had: the ban policy doubles the next one's length that many times.
    public func repeatCount(key: BanKey) throws(StoreError) -> Int {
        try perform { try pool.read { db in try Self.repeatCount(db, key: key.description) } }
    }

    /// Deletes the bans that ended at or before `date` (never the forever ones).
    /// - Returns: How many were deleted.
    @discardableResult
    public func pruneExpired(before date: Date) throws(StoreError) -> Int {
        try perform {
            try pool.write { db in
                try db.execute(
                    sql: "DELETE FROM bans WHERE until IS NOT NULL AND until <= ?",
                    arguments: [date.timeIntervalSince1970]
                )
                return db.changesCount
            }
        }
    }

    // MARK: Changes made by others

    /// The change generation: a number that grows with every change to the bans, by any process.
    public func generation() throws(StoreError) -> Int64 {
        try perform { try pool.read { db in try Self.generation(db) } }
    }

    /// The bans in force at `now` and the generation they were read at, in one read transaction.
    public func snapshot(at now: Date) throws(StoreError) -> BanSnapshot {
        try perform {
            try pool.read { db in
                BanSnapshot(generation: try Self.generation(db), bans: try Self.fetchActive(db, at: now))
            }
        }
    }

    /// A new snapshot when the bans changed after `generation`, else `nil`. Unchanged, it costs one read of a
    /// one-row table: cheap enough to poll every second.
    public func changes(since generation: Int64, at now: Date) throws(StoreError) -> BanSnapshot? {
        try perform {
            try pool.read { db in
                let current = try Self.generation(db)
                guard current != generation else { return nil }
                return BanSnapshot(generation: current, bans: try Self.fetchActive(db, at: now))
            }
        }
    }

    // MARK: Strikes

    /// Appends strikes to the history (one transaction).
    public func recordStrikes(_ strikes: [Strike]) throws(StoreError) {
        try perform {
            try pool.write { db in
                let insert = try db.cachedStatement(sql: "INSERT INTO strikes (key, time, path) VALUES (?, ?, ?)")
                for strike in strikes {
                    try insert.execute(arguments: [
                        strike.key.description, strike.time.timeIntervalSince1970, strike.path,
                    ])
                }
            }
        }
    }

    /// The strikes against `key` at or after `date`, oldest first.
    public func strikes(key: BanKey, since date: Date) throws(StoreError) -> [Strike] {
        try perform {
            try pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: "SELECT time, path FROM strikes WHERE key = ? AND time >= ? ORDER BY time, id",
                    arguments: [key.description, date.timeIntervalSince1970]
                )
                return rows.map { Strike(key: key, time: Date(timeIntervalSince1970: $0[0]), path: $0[1]) }
            }
        }
    }

    /// The strikes at or after `date` that still count: those after their key's last automatic ban (the strikes
    /// that earned a ban are spent), oldest first. What a starting feisty puts back into its strike book.
    public func strikesInForce(since date: Date) throws(StoreError) -> [Strike] {
        try perform {
            try pool.read { db in
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT s.key, s.time, s.path FROM strikes s LEFT JOIN repeat_counts r ON r.key = s.key
                        WHERE s.time >= ? AND (r.last_ban IS NULL OR s.time > r.last_ban)
                        ORDER BY s.time, s.id
                        """,
                    arguments: [date.timeIntervalSince1970]
                )
                var strikes: [Strike] = []
                while let row = try rows.next() {
                    guard let key = try? BanKey(parsing: row[0]) else { continue }
                    strikes.append(Strike(key: key, time: Date(timeIntervalSince1970: row[1]), path: row[2]))
                }
                return strikes
            }
        }
    }

    /// Keeps the strike history bounded: deletes strikes before `date` (the find-time window's start), then the
    /// oldest beyond `limit` rows.
    /// - Returns: How many were deleted.
    @discardableResult
    public func pruneStrikes(before date: Date, keepingAtMost limit: Int = 100_000) throws(StoreError) -> Int {
        try perform {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM strikes WHERE time < ?", arguments: [date.timeIntervalSince1970])
                var deleted = db.changesCount
                try db.execute(
                    sql: """
                        DELETE FROM strikes WHERE id IN
                            (SELECT id FROM strikes ORDER BY time DESC, id DESC LIMIT -1 OFFSET ?)
                        """,
                    arguments: [max(0, limit)]
                )
                deleted += db.changesCount
                return deleted
            }
        }
    }

    // MARK: Helpers

    /// The hot path of a start: read straight from the SQLite statement, no per-row allocations but the strings.
    private static func fetchActive(_ db: Database, at now: Date) throws -> [Ban] {
        let statement = try db.cachedStatement(
            sql: """
                SELECT net_high, net_low, prefix, since, until, reason, evidence, source FROM bans
                WHERE until IS NULL OR until > ?
                """
        )
        let rows = try Row.fetchCursor(statement, arguments: [now.timeIntervalSince1970])
        let sqlite = statement.sqliteStatement
        func text(_ column: Int32) -> String {
            sqlite3_column_text(sqlite, column).map { String(cString: $0) } ?? ""
        }
        var bans: [Ban] = []
        while try rows.next() != nil {
            let high = UInt128(UInt64(bitPattern: sqlite3_column_int64(sqlite, 0)))
            let low = UInt128(UInt64(bitPattern: sqlite3_column_int64(sqlite, 1)))
            let network = IPNetwork(networkBits: high << 64 | low, prefixLength: Int(sqlite3_column_int64(sqlite, 2)))
            let until: Date? =
                sqlite3_column_type(sqlite, 4) == SQLITE_NULL
                ? nil : Date(timeIntervalSince1970: sqlite3_column_double(sqlite, 4))
            bans.append(
                Ban(
                    key: BanKey(network: network),
                    since: Date(timeIntervalSince1970: sqlite3_column_double(sqlite, 3)),
                    until: until,
                    reason: text(5),
                    evidence: text(6),
                    source: text(7) == "manual" ? .manual : .automatic
                )
            )
        }
        return bans
    }

    /// A row's ban; `nil` for a row a person wrote by hand with a key or source feisty cannot read (skipped, so
    /// one bad row never stops feisty from starting).
    private static func ban(from row: Row) -> Ban? {
        let keyText: String = row[0]
        guard let key = try? BanKey(parsing: keyText), let source = BanSource(rawValue: row[5]) else { return nil }
        let until: Double? = row[2]
        return Ban(
            key: key,
            since: Date(timeIntervalSince1970: row[1]),
            until: until.map(Date.init(timeIntervalSince1970:)),
            reason: row[3],
            evidence: row[4],
            source: source
        )
    }

    private static func repeatCount(_ db: Database, key: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count FROM repeat_counts WHERE key = ?", arguments: [key]) ?? 0
    }

    private static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM generation WHERE id = 1") ?? 0
    }

    private func perform<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            throw Self.storeError(error, path: path, directory: (path as NSString).deletingLastPathComponent)
        }
    }

    private static func prepare(directory: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .unwritableDirectory(path: directory, reason: accessProblem(directory) ?? "cannot create it")
        }
        if let problem = accessProblem(directory) { throw .unwritableDirectory(path: directory, reason: problem) }
    }

    /// Why the current user cannot write in `directory`, or `nil` when it can.
    private static func accessProblem(_ directory: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            // The nearest existing ancestor says why it could not be made.
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory || parent.isEmpty { return "it does not exist" }
            return accessProblem(parent).map { "\($0) (in \(parent))" } ?? "it does not exist"
        }
        guard isDirectory.boolValue else { return "it is not a directory" }
        guard access(directory, W_OK | X_OK) == 0 else { return String(cString: strerror(errno)) }
        return nil
    }

    private static func storeError(_ error: any Error, path: String, directory: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? DatabaseError else { return .database(path: path, reason: "\(error)") }
        let reason = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: return .corruptFile(path: path, reason: reason)
        case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM:
            return .unwritableDirectory(path: directory, reason: "\(reason) (\(Self.fileName))")
        default: return .database(path: path, reason: reason)
        }
    }
}
