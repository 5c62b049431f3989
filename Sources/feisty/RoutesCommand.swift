import ArgumentParser
import FeistyCore

/// `feisty routes` (placeholder).
struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes")
    func run() async throws {}
}
