/// What the guard says about a new connection, before a byte of it is read.
public enum ConnectionVerdict: Sendable, Hashable {
    /// Serve it.
    case serve
    /// Close it at once: the peer is banned or denied (under `--ban-response close`).
    case closeBanned
    /// Close it at once: the peer has `--max-conns-per-client` connections open already.
    case closeTooMany
}

/// What the guard says about one request head, after the route gate.
public enum RequestVerdict: Sendable, Hashable {
    /// Nothing to add: a declared route from a client in good standing, or a client the guard never judges (an
    /// allowed one, a trusted proxy itself, a Unix socket peer).
    case pass
    /// An undeclared URL, the client's first in the window: the app answers it as it would without feisty (a typo,
    /// a stale bookmark, an app that redirects unknown URLs to its login page).
    case forwardUndeclared
    /// An undeclared URL feisty answers itself, with the app's own error page: a later one, a repeat, a canary path.
    case refuseUndeclared
    /// The client is banned or denied: close the connection (`--ban-response close`) or answer 403.
    case banned(closeSilently: Bool)
    /// Over `--rate`: 429 with `Retry-After` (whole seconds).
    case throttled(retryAfterSeconds: Int)
}
