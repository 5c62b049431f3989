/// What the control endpoints act on, as closures so the responder is tested without a supervisor or a store.
public struct AdminControl: Sendable {
    /// Adds a ban and applies it (`nil`: the guard is off).
    public var ban: (@Sendable (Ban) async throws -> Void)?
    /// Lifts the ban on exactly this key; returns whether there was one (`nil`: the guard is off).
    public var unban: (@Sendable (BanKey) async throws -> Bool)?
    /// Swaps a ready instance; returns `false` when there is no such ready instance (`nil`: no supervisor).
    public var recycle: (@Sendable (Int) -> Bool)?
    /// Deploys the code on disk, as SIGHUP does (`nil`: no supervisor).
    public var reload: (@Sendable () -> Void)?

    /// Creates the control surface.
    public init(
        ban: (@Sendable (Ban) async throws -> Void)? = nil,
        unban: (@Sendable (BanKey) async throws -> Bool)? = nil,
        recycle: (@Sendable (Int) -> Bool)? = nil,
        reload: (@Sendable () -> Void)? = nil
    ) {
        self.ban = ban
        self.unban = unban
        self.recycle = recycle
        self.reload = reload
    }

    /// Control over the guard's bans and (when there is one) the supervisor.
    public init(guardService: GuardService?, supervisor: AppSupervisor?) {
        self.init()
        if let guardService {
            ban = { ban in try await guardService.add(ban) }
            unban = { key in try await guardService.remove(key) }
        }
        if let supervisor {
            recycle = { id in supervisor.recycle(instance: id) }
            reload = { supervisor.reload() }
        }
    }
}
