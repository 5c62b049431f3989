import ArgumentParser
import FeistyCore
import Foundation

/// `feisty status`: a running feisty's state, read from its admin listener.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running feisty's state: traffic, instances, recent events, bans, busiest routes."
    )

    @Option(
        help: ArgumentHelp(
            "The admin listener: HOST:PORT or unix:PATH (default: \(AdminAddress.standard)).",
            valueName: "addr"
        )
    )
    var admin: String?

    @Flag(help: "Print the raw /status JSON.")
    var json = false

    @Option(help: "A bearer token to send (only control needs one; /status is open).")
    var token: String?

    func run() async throws {
        do {
            let address = try admin.map { text throws(AdminError) in try AdminAddress(parsing: text) } ?? .standard
            let answer = try await AdminClient.request("/status", at: address, token: token)
            guard answer.status == 200 else {
                throw AdminError.badAnswer("HTTP \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            if json {
                FileHandleOutput.out(String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .newlines))
                return
            }
            let report: StatusReport
            do {
                report = try StatusReport.decoder().decode(StatusReport.self, from: Data(answer.body))
            } catch {
                throw AdminError.badAnswer("not a feisty status (\(error))")
            }
            FileHandleOutput.out(StatusText.render(report))
        } catch let error as AdminError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }
}
