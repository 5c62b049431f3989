import ArgumentParser
import FeistyCore
import Foundation

/// `feisty reload [APP] [--pid PID]`: asks a running `feisty run` to deploy the code now on disk (SIGHUP).
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Deploy the code now on disk to a running `feisty run`, one instance at a time (sends it SIGHUP).",
        discussion: """
            A new version that fails to import, crashes while starting or never gets ready is refused: the running \
            instances keep serving and feisty logs why.
            """
    )

    @Argument(help: "The app as given to `feisty run` (needed only when several are running).")
    var app: String?

    @Option(help: "The PID of the `feisty run` process.")
    var pid: Int32?

    @Option(help: "The `--listen HOST:PORT` the `feisty run` process was started with.")
    var listen: String?

    func run() throws {
        let target: Int32
        if let pid {
            target = pid
        } else {
            switch RunningFeisty.choose(from: RunningFeisty.all(), app: app, listen: listen) {
            case .success(let found): target = found.processID
            case .failure(let error):
                FileHandleOutput.error("feisty: \(error)")
                throw ExitCode.failure
            }
        }
        guard kill(target, SIGHUP) == 0 else {
            FileHandleOutput.error("feisty: cannot signal process \(target): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        FileHandleOutput.out("feisty: asked process \(target) to deploy the code on disk (see its log)")
    }
}
