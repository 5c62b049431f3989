/// What the launcher writes (atomically) once the app object is known: the app's route table plus
/// where the app asked to listen and where it was actually bound.
///
/// The JSON is the `RouteTable` object with extra keys: `requested`, `bind` and (newer launchers) `error_pages`.
public struct LaunchReport: Sendable, Hashable, Decodable {
    /// The app's routes, read from the live `app.url_map`.
    public var table: RouteTable
    /// What `app.run(...)` asked for (`0.0.0.0:8080`), or `nil` when the app never called it (module specs).
    public var requested: ListenAddress?
    /// Where the app actually listens: feisty's internal address.
    public var bind: AppAddress
    /// The app's own 404 and 405 pages (`nil` from a launcher that does not render them, or without a Flask app).
    public var errorPages: AppErrorPages?

    /// Creates a report.
    /// - Parameters:
    ///   - table: The app's routes.
    ///   - requested: The address the app asked for.
    ///   - bind: The address the app listens on.
    ///   - errorPages: The app's own error pages.
    public init(table: RouteTable, requested: ListenAddress?, bind: AppAddress, errorPages: AppErrorPages? = nil) {
        self.table = table
        self.requested = requested
        self.bind = bind
        self.errorPages = errorPages
    }

    private enum CodingKeys: String, CodingKey {
        case requested, bind
        case errorPages = "error_pages"
    }

    /// Decodes the report: the route table from the whole object, the two addresses from their keys.
    public init(from decoder: any Decoder) throws {
        self.table = try RouteTable(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.requested = try container.decodeIfPresent(ListenAddress.self, forKey: .requested)
        self.bind = try container.decode(AppAddress.self, forKey: .bind)
        self.errorPages = try container.decodeIfPresent(AppErrorPages.self, forKey: .errorPages)
    }
}
