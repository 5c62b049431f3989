/// Who the app and feisty run as, decided from the flags and feisty's own user before anything starts.
///
/// Started as root, feisty never runs the app's code as root by accident: `--user USER` binds the public port and
/// opens the state directory as root, then drops to USER (feisty and the app alike); `--allow-root-app` keeps root on
/// purpose. With `--upstream` no app is launched, but the route probe imports the app to read its routes: as root
/// that import needs `--user` (the probe runs as USER, and feisty drops to USER once it listens) or
/// `--allow-root-app` (even `--static` starts the app's interpreter, whose `site` runs the `.pth` files of its
/// packages). With `--user` in launch mode the
/// public address must be known before the app starts (`--listen`, or an `app.run` the source states plainly),
/// because the port is bound before root is given up. `--ban-action nftables` with `--user` keeps `CAP_NET_ADMIN`
/// (alone, on the one thread that starts `nft`) through the drop.
public enum PrivilegePlan: Sendable, Hashable {
    /// Run as feisty was started (not root).
    case unchanged
    /// Root on purpose (`--allow-root-app`).
    case root
    /// Bind, then become this user (and group, else the user's primary group); `keepingNetAdmin`: the thread that
    /// starts `nft` keeps `CAP_NET_ADMIN` (``NetAdminThread``).
    case drop(user: String, group: String?, keepingNetAdmin: Bool = false)

    /// The flags and the run, as the decision needs them.
    public struct Request: Sendable, Hashable {
        /// feisty's effective user ID.
        public var effectiveUserID: UInt32
        /// `--user`.
        public var user: String?
        /// `--group`.
        public var group: String?
        /// `--allow-root-app`.
        public var allowRootApp: Bool
        /// `--upstream` (no app is launched; the probe imports it for its routes).
        public var upstream: Bool
        /// `--ban-action nftables`.
        public var nftables: Bool
        /// Whether the public address is known before the app starts.
        public var publicAddressKnown: Bool

        /// Creates a request.
        public init(
            effectiveUserID: UInt32,
            user: String?,
            group: String? = nil,
            allowRootApp: Bool = false,
            upstream: Bool = false,
            nftables: Bool = false,
            publicAddressKnown: Bool = true
        ) {
            self.effectiveUserID = effectiveUserID
            self.user = user
            self.group = group
            self.allowRootApp = allowRootApp
            self.upstream = upstream
            self.nftables = nftables
            self.publicAddressKnown = publicAddressKnown
        }
    }

    /// Decides, or explains the refusal.
    public static func decide(_ request: Request) throws(PrivilegeError) -> PrivilegePlan {
        let isRoot = request.effectiveUserID == 0
        guard let user = request.user else {
            guard isRoot, !request.allowRootApp else { return isRoot ? .root : .unchanged }
            if !request.upstream {
                throw PrivilegeError(
                    "feisty runs as root and would run the app as root: pass --user USER (feisty binds the port, "
                        + "then runs the app as USER and drops its own root) or --allow-root-app to run it as root"
                )
            }
            throw PrivilegeError(
                "feisty runs as root and would import the app as root to read its routes (--upstream): pass "
                    + "--user USER (the probe imports it as USER, and feisty drops to USER once it listens) or "
                    + "--allow-root-app to import it as root"
            )
        }
        guard isRoot else {
            throw PrivilegeError(
                "--user \(user) needs feisty started as root (it runs as uid \(request.effectiveUserID)); "
                    + "start it as root, or leave --user out to run everything as the current user"
            )
        }
        if !request.upstream, !request.publicAddressKnown {
            throw PrivilegeError(
                "with --user feisty binds the public port before giving up root, so it must know it before the "
                    + "app starts: pass --listen HOST:PORT (the app's app.run(...) does not state it plainly)"
            )
        }
        return .drop(user: user, group: request.group, keepingNetAdmin: request.nftables)
    }
}

extension PrivilegePlan {
    /// The account to become (`nil`: none), looked up now so a bad `--user` or `--group` fails before anything
    /// starts.
    public var account: UserAccount? {
        get throws(PrivilegeError) {
            guard case .drop(let user, let group, _) = self else { return nil }
            return try UserAccount.lookUp(user, group: group)
        }
    }

    /// The thread that keeps `CAP_NET_ADMIN` for `nft` through the drop (`nil`: none does), started now so that it
    /// exists before the drop.
    public func makeNetAdminThread() -> NetAdminThread? {
        guard case .drop(_, _, keepingNetAdmin: true) = self else { return nil }
        return NetAdminThread()
    }
}
