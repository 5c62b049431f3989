import ArgumentParser
import FeistyCore

/// How to find and load the app: shared by every command that takes APP.
struct AppOptions: ParsableArguments {
    @Argument(help: "The app, as `flask --app` takes it: app.py, a folder, module:name, 'pkg:create_app()'.")
    var app: String

    @Option(help: "The Python interpreter to load the app with (a virtualenv's python works).")
    var python: String = "python3"

    @Option(help: "Seconds loading the app may take before feisty gives up.")
    var timeout: Int = 30

    @Flag(name: .customLong("static"), help: "Never run the app: read its routes from the source with Python's ast.")
    var staticOnly: Bool = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    /// Extracts the app's route table, turning failures into a one-line error and exit status 1.
    /// - Parameters:
    ///   - cache: Where to reuse and keep the table (`nil`: import the app every time).
    ///   - account: The account to import the app as (`--user`; `nil`: feisty's own).
    func routeTable(cache: RouteTableCache? = nil, account: UserAccount? = nil) async throws -> RouteTable {
        do {
            let extractor = RouteExtractor(
                python: python,
                timeout: .seconds(timeout),
                cache: cache,
                launcher: account.map { AccountLauncher(account: $0) }
            )
            return try await extractor.extract(app: app, staticOnly: staticOnly)
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
    }
}
