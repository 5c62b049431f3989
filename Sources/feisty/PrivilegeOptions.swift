import ArgumentParser

/// Who the app and feisty run as (`feisty run`, and `feisty systemd` for the unit's `User=`/`Group=`).
struct PrivilegeOptions: ParsableArguments {
    @Option(
        help: """
            Started as root: bind the public port and open the state directory (chowned to USER), then run the app \
            as USER and drop feisty's own privileges to it (--upstream: the probe imports the app as USER; \
            --ban-action nftables: one thread keeps CAP_NET_ADMIN for nft).
            """
    )
    var user: String?

    @Option(help: "The group for --user (default: the user's primary group).")
    var group: String?

    @Flag(
        help: "Started as root without --user: run (--upstream: import) the app as root anyway (refused otherwise)."
    )
    var allowRootApp = false

    func validate() throws {
        if group != nil, user == nil { throw ValidationError("--group needs --user") }
        if allowRootApp, user != nil { throw ValidationError("--allow-root-app and --user exclude each other") }
    }
}
