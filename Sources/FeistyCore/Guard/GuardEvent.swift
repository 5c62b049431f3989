import Foundation

/// What the hot path tells the guard service, which writes it down and acts on it off the event loops.
enum GuardEvent: Sendable {
    /// A new strike against a client: the undeclared path, and its weighted strikes in the window now.
    case strike(ClientKey, path: String, count: Int, at: Date)
    /// A client reached `--max-strikes` (under `--dry-run`: would have): the ban to make durable, then enforce.
    case ban(BanDecision, at: Date)
}
