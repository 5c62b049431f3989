import ServiceLifecycle

/// `--upstream` with `--user`: gives root up once the proxy listens (the port may need root), then waits for the
/// shutdown. A drop that fails ends the run: feisty must not go on serving as root.
struct PrivilegeDropService: Service {
    /// Resolves once the public listener is bound (or failed to bind: then nothing is dropped, the server's error ends
    /// the run).
    let listening: @Sendable () async throws -> Void
    /// Gives root up.
    let drop: @Sendable () throws -> Void

    func run() async throws {
        guard (try? await listening()) != nil else { return try await gracefulShutdown() }
        try drop()
        try await gracefulShutdown()
    }
}
