import ArgumentParser
import FeistyCore
import Foundation

/// `feisty bans list|add|remove`: the durable ban list in the state directory; a running feisty applies changes
/// within a second.
struct BansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bans",
        abstract: "List, add or remove bans in feisty's state directory (a running feisty applies them).",
        subcommands: [List.self, Add.self, Remove.self]
    )

    /// `--state-dir`, shared by the subcommands.
    struct StateOptions: ParsableArguments {
        @Option(
            name: .customLong("state-dir"),
            help: ArgumentHelp(
                "The directory holding bans.sqlite.",
                discussion: "Default: $XDG_STATE_HOME/feisty or ~/.local/state/feisty; /var/lib/feisty for root.",
                valueName: "dir"
            )
        )
        var stateDirectory: String?

        func openStore() throws -> BanStore {
            try BansCommand.reporting { () throws(StoreError) in
                try BanStore(directory: stateDirectory ?? StateDirectory.defaultPath())
            }
        }
    }

    /// Runs `body`, printing a store error as one `feisty: ...` line and exiting 1.
    @discardableResult
    static func reporting<T>(_ body: () throws(StoreError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the bans in force.")

        @OptionGroup var state: StateOptions

        @Flag(help: "Print the bans as one JSON document.")
        var json = false

        func run() throws {
            let store = try state.openStore()
            let records = try BansCommand.reporting { () throws(StoreError) in try store.records(at: Date()) }
            FileHandleOutput.out(json ? BanListing.json(records) : BanListing.text(records))
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ban an address or CIDR block (replacing any ban on exactly that key)."
        )

        @Argument(help: ArgumentHelp("An IP address or CIDR block.", valueName: "addr|cidr"))
        var key: String

        @Option(
            name: .customLong("for"),
            help: ArgumentHelp("How long: 30s, 10m, 2h, 7d, or forever.", valueName: "duration")
        )
        var duration = "forever"

        @Option(help: "Why, shown by `feisty bans list`.")
        var reason = ""

        @OptionGroup var state: StateOptions

        func run() throws {
            // Every value is checked before the store is opened: bad input changes nothing.
            let (banKey, length) = try BansCommand.reporting { () throws(StoreError) in
                (try BanKey(parsing: key), try BanDuration.seconds(parsing: duration))
            }
            let store = try state.openStore()
            let now = Date()
            let ban = Ban(
                key: banKey, since: now, until: length.map { now.addingTimeInterval($0) }, reason: reason,
                source: .manual
            )
            try BansCommand.reporting { () throws(StoreError) in try store.add(ban) }
            let until = ban.until.map { "until \($0.formatted(.iso8601))" } ?? "forever"
            FileHandleOutput.out("feisty: banned \(banKey) \(until)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift the ban on an address or CIDR block.")

        @Argument(
            help: ArgumentHelp(
                "The key as `feisty bans list` shows it (or any spelling of it).",
                valueName: "addr|cidr"
            )
        )
        var key: String

        @OptionGroup var state: StateOptions

        func run() throws {
            let banKey = try BansCommand.reporting { () throws(StoreError) in try BanKey(parsing: key) }
            let store = try state.openStore()
            let removed = try BansCommand.reporting { () throws(StoreError) in try store.remove(key: banKey) }
            guard removed else {
                FileHandleOutput.error("feisty: no ban on \(banKey) (see `feisty bans list`)")
                throw ExitCode.failure
            }
            FileHandleOutput.out("feisty: lifted the ban on \(banKey)")
        }
    }
}
