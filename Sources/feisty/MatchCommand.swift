import ArgumentParser
import FeistyCore

/// `feisty match` (placeholder).
struct MatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "match")
    func run() async throws {}
}
