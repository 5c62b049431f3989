import ArgumentParser
import FeistyCore

/// `feisty exec-as --uid U --gid G --groups A,B -- PROGRAM ARGS...` (hidden): how feisty started as root runs the
/// route probe as `--user` (``AccountLauncher``): this fresh process becomes the account, then execs the program.
struct ExecAsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: AccountLauncher.subcommand,
        abstract: "Run a program as another user (feisty's own use).",
        shouldDisplay: false
    )

    @Option var uid: UInt32
    @Option var gid: UInt32
    @Option var groups: String

    @Argument(parsing: .postTerminator) var arguments: [String] = []

    func run() throws {
        let groupIDs = groups.split(separator: ",").compactMap { UInt32($0) }
        let failure = AccountLauncher.execute(userID: uid, groupID: gid, groups: groupIDs, arguments: arguments)
        FileHandleOutput.error("feisty exec-as: \(failure)")
        throw ExitCode(126)
    }
}
