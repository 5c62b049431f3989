import Foundation

/// A ban decision the hot path hands to the guard service, which makes it durable, then enforces it.
enum GuardEvent: Sendable {
    /// A client reached `--max-strikes` (under `--dry-run`: would have).
    case ban(BanDecision, at: Date)
}

/// A new strike, as the hot path saw it: collected, then written and logged by the guard service in batches (a task
/// wake-up per strike cost as much as the strike itself).
struct StrikeNote: Sendable {
    let client: ClientKey
    let path: String
    /// The client's weighted strikes in the window with this one.
    let count: Int
    let date: Date
}
