import ArgumentParser
import FeistyCore
import Foundation

/// `feisty systemd APP [--user USER] [run flags...]`: prints a systemd unit running `feisty run` with these flags.
struct SystemdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "systemd",
        abstract: "Print a systemd service unit that runs `feisty run APP` with the flags given.",
        discussion: """
            Takes exactly what `feisty run` takes (see `feisty run --help`). --user and --group become the unit's \
            User= and Group= (without --user, DynamicUser=yes); the interpreter, the app and feisty itself are \
            written as absolute paths. Save the output as /etc/systemd/system/NAME.service.
            """
    )

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("The app and `feisty run` flags.", valueName: "run-arguments")
    )
    var arguments: [String] = []

    func run() async throws {
        let run: RunCommand
        do {
            run = try RunCommand.parse(arguments)
        } catch {
            RunCommand.exit(withError: error)
        }
        if run.upstream != nil {
            FileHandleOutput.error("feisty: feisty systemd writes units for launch mode; --upstream is not supported")
            throw ExitCode.failure
        }
        guard let interpreter = await ExecutablePaths.interpreter(run.app.python) else {
            FileHandleOutput.error("feisty: \(run.app.python): no such interpreter (--python)")
            throw ExitCode.failure
        }
        let isPath = run.app.app.hasSuffix(".py") || FileManager.default.fileExists(atPath: run.app.app)
        let app = isPath ? ExecutablePaths.absolute(run.app.app) : run.app.app
        let workingDirectory =
            isPath ? URL(fileURLWithPath: app).deletingLastPathComponent().path : ExecutablePaths.absolute(".")
        let stateDirectory =
            run.guardRun.state.stateDirectory.map(ExecutablePaths.absolute)
            ?? SystemdUnit.defaultStateDirectory
        let unit = SystemdUnit(
            feisty: ExecutablePaths.ownExecutable(),
            interpreter: interpreter,
            app: app,
            workingDirectory: workingDirectory,
            runArguments: SystemdRunArguments.passedThrough(arguments, app: run.app.app),
            user: run.privileges.user,
            group: run.privileges.group,
            publicPort: await run.publicPort(),
            stateDirectory: stateDirectory,
            nftables: run.guardRun.banAction == .nftables,
            graceSeconds: (try? ProxyValueParsing.seconds(run.proxy.grace)).map {
                Int($0.duration.components.seconds) + 1
            } ?? 10
        )
        FileHandle.standardOutput.write(Data(unit.text.utf8))
    }
}

extension RunCommand {
    /// The port `feisty run` will serve: `--listen`'s, else the one the app's `app.run` asks for, else 5000.
    func publicPort() async -> Int {
        if let listen, let configuration = try? proxy.configuration(listen: listen) { return configuration.listenPort }
        let table = try? await RouteExtractor(python: app.python, timeout: .seconds(app.timeout))
            .extract(app: app.app, staticOnly: true)
        return table?.port ?? LaunchedAppRun.fallbackAddress.port
    }
}
