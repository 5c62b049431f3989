import ArgumentParser
import FeistyCore

/// `feisty run` (placeholder).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run")
    func run() async throws {}
}
