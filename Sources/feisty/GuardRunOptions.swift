import ArgumentParser
import FeistyCore
import Logging

/// The guard's flags that only `feisty run` has: where bans are kept and how they and the per-client limits are
/// enforced (the strike and ban policy itself is `GuardOptions`, shared with `feisty replay`).
struct GuardRunOptions: ParsableArguments {
    @OptionGroup var state: BansCommand.StateOptions

    @Flag(help: "Compute strikes and bans and log them (\"would ban\"), but refuse nobody for them.")
    var dryRun = false

    @Flag(help: "No strikes, bans or per-client limits: only the route gate (undeclared URLs are answered 404/405).")
    var noGuard = false

    @Option(help: "How a banned client is turned away: close (its connections are closed unread) or 403.")
    var banResponse: GuardConfiguration.BanResponse = .close

    @Option(
        help: """
            Also mirror bans into the kernel: nftables (needs root; a set in table inet feisty with each ban's \
            timeout, so the kernel drops banned clients).
            """
    )
    var banAction: BanAction?

    @Option(help: "Requests per second a client may make (a token bucket; the excess gets 429 with Retry-After).")
    var rate: Double?

    @Option(help: "How many requests beyond --rate a client may make at once (default: the rate, at least 1).")
    var burst: Int?

    @Option(help: "Connections one client may hold open; more are closed at accept.")
    var maxConnsPerClient: Int?

    @Option(
        help: ArgumentHelp(
            "Never strike, ban or throttle these clients (repeatable).",
            discussion: """
                An address, a CIDR, a host name (resolved at start and every --dns-refresh), a reverse pattern \
                such as *.googlebot.com (counts only when the client's PTR name resolves back to its address), or \
                @FILE with one entry per line.
                """,
            valueName: "entry"
        )
    )
    var allow: [String] = []

    @Option(
        help: ArgumentHelp(
            "Refuse these clients like banned ones (repeatable; entries as --allow).",
            valueName: "entry"
        )
    )
    var deny: [String] = []

    @Option(
        help: ArgumentHelp(
            "Serve these clients first when the app is at --app-concurrency (repeatable; entries as --allow).",
            valueName: "entry"
        )
    )
    var priority: [String] = []

    @Option(help: "How often host names of --allow, --deny and --priority are resolved again.")
    var dnsRefresh = "5m"

    func validate() throws {
        if let rate, !(rate > 0) { throw ValidationError("--rate must be a positive number of requests per second") }
        if let burst, burst < 1 { throw ValidationError("--burst must be at least 1") }
        if burst != nil, rate == nil { throw ValidationError("--burst needs --rate") }
        if let maxConnsPerClient, maxConnsPerClient < 1 {
            throw ValidationError("--max-conns-per-client must be at least 1")
        }
    }

    /// The guard's settings (`nil` under `--no-guard`).
    func configuration(policy: GuardOptions) throws -> GuardConfiguration? {
        guard !noGuard else {
            if !allow.isEmpty || !deny.isEmpty || !priority.isEmpty || rate != nil || maxConnsPerClient != nil
                || banAction != nil
            {
                throw ValidationError(
                    "--no-guard turns off --allow, --deny, --priority, --rate, --max-conns-per-client and --ban-action"
                )
            }
            return nil
        }
        let lists: AddressLists
        do {
            lists = try AddressLists(parsingAllow: allow, deny: deny, priority: priority)
        } catch {
            throw ValidationError("\(error)")
        }
        let refresh: Duration
        do {
            refresh = try ProxyValueParsing.duration(dnsRefresh)
        } catch {
            throw ValidationError("--dns-refresh: \(error)")
        }
        return GuardConfiguration(
            strikes: try policy.strikeBook(dryRun: dryRun),
            ipv6Prefix: policy.ipv6Prefix,
            stateDirectory: state.stateDirectory ?? StateDirectory.defaultPath(),
            banResponse: banResponse,
            nftables: banAction == .nftables,
            rate: rate.map { (perSecond: $0, burst: burst ?? max(1, Int($0.rounded(.up)))) },
            maxConnectionsPerClient: maxConnsPerClient,
            lists: lists,
            dnsRefresh: refresh
        )
    }
}

extension GuardConfiguration.BanResponse: ExpressibleByArgument {}

/// `--ban-action`.
enum BanAction: String, ExpressibleByArgument, CaseIterable {
    case nftables
}
