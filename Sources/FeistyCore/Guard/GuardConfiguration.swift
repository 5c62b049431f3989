/// The guard's settings for `feisty run`: the strike and ban policy, where bans are kept, how they are enforced, and
/// the per-client limits.
public struct GuardConfiguration: Sendable {
    /// How a banned (or denied) client is turned away.
    public enum BanResponse: String, Sendable, Hashable, CaseIterable {
        /// Its new connections are closed right after accept, its open ones at their next request: no answer.
        case close
        /// Every request is answered `403 Forbidden`, and the connection closes.
        case forbidden = "403"
    }

    /// An empty strike book carrying the policy, the canary paths and `--strike-405`.
    public var strikes: StrikeBook
    /// `--ipv6-prefix`: IPv6 clients are keyed by their network of this length.
    public var ipv6Prefix: Int
    /// The folder of `bans.sqlite` (`--state-dir`).
    public var stateDirectory: String
    /// `--ban-response`.
    public var banResponse: BanResponse
    /// `--ban-action nftables`: bans are also mirrored into an nftables set, so the kernel drops the client.
    public var nftables: Bool
    /// `--rate` requests per second with bursts of `--burst`, per client (`nil`: no limit).
    public var rate: (perSecond: Double, burst: Int)?
    /// `--max-conns-per-client` (`nil`: no limit).
    public var maxConnectionsPerClient: Int?
    /// `--allow`, `--deny` and `--priority`.
    public var lists: AddressLists
    /// `--dns-refresh`: how often the lists' host names are resolved again.
    public var dnsRefresh: Duration

    /// Whether bans and limits are only computed and logged (`--dry-run`).
    public var dryRun: Bool { strikes.policy.dryRun }

    /// Creates the settings; everything but the state directory has the flags' defaults.
    public init(
        strikes: StrikeBook = StrikeBook(),
        ipv6Prefix: Int = ClientKey.defaultIPv6Prefix,
        stateDirectory: String,
        banResponse: BanResponse = .close,
        nftables: Bool = false,
        rate: (perSecond: Double, burst: Int)? = nil,
        maxConnectionsPerClient: Int? = nil,
        lists: AddressLists = AddressLists(),
        dnsRefresh: Duration = .seconds(300)
    ) {
        self.lists = lists
        self.dnsRefresh = dnsRefresh
        self.strikes = strikes
        self.ipv6Prefix = ipv6Prefix
        self.stateDirectory = stateDirectory
        self.banResponse = banResponse
        self.nftables = nftables
        self.rate = rate
        self.maxConnectionsPerClient = maxConnectionsPerClient
    }
}
