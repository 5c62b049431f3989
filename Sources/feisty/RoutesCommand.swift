import ArgumentParser
import FeistyCore

/// `feisty routes APP`: the app's routes as feisty sees them.
struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Show the routes the app declares (like `flask routes`), and where app.run would serve."
    )

    @OptionGroup var app: AppOptions
    @OptionGroup var routeCache: RouteCacheOptions

    @Flag(help: "Print the route table as JSON.")
    var json = false

    func run() async throws {
        let table = try await app.routeTable(cache: routeCache.cache)
        FileHandleOutput.out(json ? RouteListing.json(table) : RouteListing.text(table))
    }
}
