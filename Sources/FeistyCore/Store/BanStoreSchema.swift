import GRDB

/// The ban store's schema, one `DatabaseMigrator` step per change; a step, once released, is never edited.
///
/// A ban's key is kept twice: as canonical text (the primary key, what people read and type) and as its 128-bit
/// network number in two signed 64-bit halves plus the prefix length (what a starting feisty loads, without
/// parsing 100,000 strings). Times are `REAL` seconds since 1970 (cheap to compare and to load). `generation` is a
/// one-row counter that triggers bump on every change to `bans`, whoever makes it (this process, `feisty bans`, or
/// `sqlite3` by hand): a running feisty polls it to apply changes within a second.
enum BanStoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: bans, repeat counts, strikes, generation") { db in
            try db.execute(
                sql: """
                    CREATE TABLE bans (
                        key TEXT PRIMARY KEY NOT NULL,
                        net_high INTEGER NOT NULL,
                        net_low INTEGER NOT NULL,
                        prefix INTEGER NOT NULL,
                        since REAL NOT NULL,
                        until REAL,
                        reason TEXT NOT NULL DEFAULT '',
                        evidence TEXT NOT NULL DEFAULT '',
                        source TEXT NOT NULL CHECK (source IN ('automatic', 'manual'))
                    );
                    CREATE INDEX bans_until ON bans(until);

                    CREATE TABLE repeat_counts (
                        key TEXT PRIMARY KEY NOT NULL,
                        count INTEGER NOT NULL,
                        last_ban REAL NOT NULL
                    );

                    CREATE TABLE strikes (
                        id INTEGER PRIMARY KEY,
                        key TEXT NOT NULL,
                        time REAL NOT NULL,
                        path TEXT NOT NULL
                    );
                    CREATE INDEX strikes_key_time ON strikes(key, time);
                    CREATE INDEX strikes_time ON strikes(time);

                    CREATE TABLE generation (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        value INTEGER NOT NULL
                    );
                    INSERT INTO generation (id, value) VALUES (1, 0);
                    CREATE TRIGGER bans_inserted AFTER INSERT ON bans
                        BEGIN UPDATE generation SET value = value + 1; END;
                    CREATE TRIGGER bans_updated AFTER UPDATE ON bans
                        BEGIN UPDATE generation SET value = value + 1; END;
                    CREATE TRIGGER bans_deleted AFTER DELETE ON bans
                        BEGIN UPDATE generation SET value = value + 1; END;
                    """
            )
        }
        return migrator
    }
}
