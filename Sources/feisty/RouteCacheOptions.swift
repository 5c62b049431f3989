import ArgumentParser
import FeistyCore

/// `--no-cache`, for the commands that only read routes (`routes`, `match`, `replay`); `feisty run` always imports.
struct RouteCacheOptions: ParsableArguments {
    @Flag(
        name: .customLong("no-cache"),
        help: """
            Import the app even if its routes are cached. The cache ($XDG_CACHE_HOME/feisty/routes) keeps a table \
            while every file, folder and module the import read, the interpreter and the environment are unchanged; \
            use this when routes depend on anything else (the clock, a file's mere existence).
            """
    )
    var noCache = false

    /// The cache to use, `nil` with `--no-cache`.
    var cache: RouteTableCache? { noCache ? nil : .standard() }
}
