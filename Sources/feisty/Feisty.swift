import ArgumentParser
import FeistyCore
import Foundation
import Logging

/// The `feisty` command: makes an unmodified Flask service self-managing.
@main
struct Feisty: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feisty",
        abstract: "Run an unmodified Flask app behind a self-managing, feisty reverse proxy.",
        subcommands: [
            RoutesCommand.self, MatchCommand.self, RunCommand.self, ReloadCommand.self, ReplayCommand.self,
            BansCommand.self, StatusCommand.self, SystemdCommand.self, ExecAsCommand.self,
        ]
    )

    /// The environment variable that sets the lowest level feisty logs (`info` by default).
    static let logLevelVariable = "FEISTY_LOG_LEVEL"

    /// Installs feisty's console log, then parses and runs the command exactly as `AsyncParsableCommand.main()` does.
    ///
    /// Not `async` itself: an async `main` parks the main thread in libdispatch's `dispatch_main`, halfway through
    /// `pthread_exit`, where glibc's `setuid` no longer reaches it, so `feisty run --user` would leave that thread
    /// root. Here the main thread only waits, as an ordinary thread, for the command to finish.
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await run()
            finished.signal()
        }
        finished.wait()
    }

    private static func run() async {
        // Before any command runs: a Logger made earlier would keep swift-log's default handler for good.
        let requested = ProcessInfo.processInfo.environment[logLevelVariable].flatMap { $0.isEmpty ? nil : $0 }
        let level = requested.flatMap(ConsoleLogHandler.level(named:)) ?? .info
        LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, logLevel: level) }
        if let requested, ConsoleLogHandler.level(named: requested) == nil {
            let names = ConsoleLogHandler.levelNames.joined(separator: ", ")
            Logger(label: "feisty").warning("\(logLevelVariable)=\(requested) is not a level (\(names)); using info")
        }
        let arguments = RunConfigFile.processArguments()
        // Chosen before the command runs (the handler reads it per line); the last --log-format wins, as in parsing.
        if arguments.first == "run", let format = RunConfigFile.lastValue(of: "log-format", in: arguments) {
            LogFormat.select(LogFormat(rawValue: format) ?? .text)
        }
        await main(arguments)
    }
}
