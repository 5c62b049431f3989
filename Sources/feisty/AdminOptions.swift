import ArgumentParser
import FeistyCore

/// The admin listener's flags (`feisty run`).
struct AdminOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The admin API (/status, /metrics, /healthz, /readyz, control): HOST:PORT, unix:PATH or off.",
            discussion: "Default: \(AdminAddress.standard) (skipped with a warning when taken).",
            valueName: "addr"
        )
    )
    var admin: String?

    @Option(help: "Allow control (/control/...) over TCP with `Authorization: Bearer TOKEN`.")
    var adminToken: String?

    @Option(help: ArgumentHelp("Read the admin token from this file.", valueName: "path"))
    var adminTokenFile: String?

    /// The configuration (`nil`: `--admin off`).
    func configuration() throws(AdminError) -> AdminConfiguration? {
        try AdminConfiguration.parse(admin: admin, token: adminToken, tokenFile: adminTokenFile)
    }
}
