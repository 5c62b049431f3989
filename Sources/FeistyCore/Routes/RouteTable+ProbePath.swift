extension RouteTable {
    /// The path feisty's readiness and health probes ask for: `/` when it is a plain GET route, else the first
    /// declared parameterless GET route that is not the static-files route, a redirect, a WebSocket route or tied to
    /// a host or subdomain (so the probe reaches a view and the app logs no 404); `nil` when there is none.
    public var probePath: String? {
        let candidates = rules.filter { rule in
            // Werkzeug gives every rule `subdomain = ""` (the default one): only a named subdomain or host is tied.
            !rule.rule.contains("<") && rule.redirectTo == nil && !rule.websocket && (rule.subdomain ?? "").isEmpty
                && (rule.host ?? "").isEmpty && rule.endpoint != "static"
                && (rule.methods.map { $0.contains("GET") } ?? true)
        }
        if candidates.contains(where: { $0.rule == "/" }) { return "/" }
        return candidates.first?.rule
    }
}
