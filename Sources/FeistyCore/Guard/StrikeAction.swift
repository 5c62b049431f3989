/// What the guard does with one request, as `StrikeBook.record` decides it.
public enum StrikeAction: Sendable, Hashable {
    /// Nothing: a declared route, a browser's own request, a path already struck in the window, a 405 under
    /// `--strike-405 0`, or a client that is not an IP address.
    case none
    /// A new strike; `count` is the client's weighted strikes in the window now (below `--max-strikes`).
    case strike(count: Int)
    /// This request reached `--max-strikes`: ban the client (or, under `--dry-run`, say it would be banned).
    case ban(BanDecision)
    /// The client is banned already (never under `--dry-run`): refuse the request.
    case refuse(BanDecision)
}
