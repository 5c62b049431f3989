import ArgumentParser
import FeistyCore

/// The `feisty` command: makes an unmodified Flask service self-managing.
@main
struct Feisty: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feisty",
        abstract: "Run an unmodified Flask app behind a self-managing, feisty reverse proxy.",
        subcommands: [RoutesCommand.self, MatchCommand.self, RunCommand.self]
    )
}
