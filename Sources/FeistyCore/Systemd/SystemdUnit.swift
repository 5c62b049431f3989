import Foundation

/// A systemd service unit that runs `feisty run APP` (what `feisty systemd` prints): built from values only, so every
/// directive is decided here and tested without systemd.
///
/// Choices, and why:
/// - `Type=notify` with `NotifyAccess=main`: feisty itself says `READY=1` once the app answers and the public port
///   listens; the app may not speak for the service (feisty also removes `NOTIFY_SOCKET` from the app's environment).
/// - `KillMode=mixed`: SIGTERM goes to feisty alone (it drains requests and stops the app within `--grace`); what is
///   left after `TimeoutStopSec` is killed as a whole.
/// - `ProtectHome=read-only` when feisty, the interpreter, the app or its working directory lie under `/home`,
///   `/root` or `/run/user` (they must stay readable), `ProtectHome=yes` (invisible) otherwise; likewise
///   `PrivateTmp=yes` unless one of them lies under `/tmp` or `/var/tmp` (then `/tmp` is made writable instead, for
///   feisty's scratch directory).
/// - Without a user, `DynamicUser=yes`: feisty never runs the app as root, and systemd gives it a transient user.
/// - The default state directory `/var/lib/feisty` is `StateDirectory=feisty` (systemd creates it, owned by the
///   service's user); another one is made writable with `ReadWritePaths=` and must exist.
/// - Capabilities: none, except `CAP_NET_BIND_SERVICE` for a public port below 1024 and `CAP_NET_ADMIN` for
///   `--ban-action nftables` (ambient, so they reach the unprivileged feisty; the app inherits them too).
public struct SystemdUnit: Sendable, Hashable {
    /// The default state directory of a system service (`feisty run` as root uses it too).
    public static let defaultStateDirectory = "/var/lib/feisty"

    /// The absolute path of the feisty executable.
    public var feisty: String
    /// The absolute path of the Python interpreter.
    public var interpreter: String
    /// The app as `feisty run` takes it: an absolute path, or a module spec resolved in `workingDirectory`.
    public var app: String
    /// The app's directory (absolute).
    public var workingDirectory: String
    /// `feisty run` flags passed through as given (besides `--python` and `--state-dir`, which the unit sets).
    public var runArguments: [String]
    /// The account feisty and the app run as (`nil`: `DynamicUser=yes`).
    public var user: String?
    /// The account's group (`nil`: the user's primary group).
    public var group: String?
    /// The public port (below 1024 needs `CAP_NET_BIND_SERVICE`).
    public var publicPort: Int
    /// Where bans are kept (absolute).
    public var stateDirectory: String
    /// Whether bans are mirrored into nftables (needs `CAP_NET_ADMIN`).
    public var nftables: Bool
    /// `WatchdogSec=` in seconds: systemd restarts feisty when it stops saying `WATCHDOG=1` for this long.
    public var watchdogSeconds: Int
    /// feisty's `--grace` in seconds; `TimeoutStopSec=` leaves room above it.
    public var graceSeconds: Int

    /// Creates a unit description.
    /// - Parameters:
    ///   - feisty: The absolute path of feisty.
    ///   - interpreter: The absolute path of the interpreter.
    ///   - app: The app (absolute path or module spec).
    ///   - workingDirectory: The app's directory.
    ///   - runArguments: Further `feisty run` flags.
    ///   - user: `User=`, or `nil` for a dynamic user.
    ///   - group: `Group=`.
    ///   - publicPort: The port feisty serves.
    ///   - stateDirectory: The state directory.
    ///   - nftables: Whether `--ban-action nftables` is among the flags.
    ///   - watchdogSeconds: `WatchdogSec=`, 30 by default.
    ///   - graceSeconds: feisty's `--grace`, 10 by default.
    public init(
        feisty: String,
        interpreter: String,
        app: String,
        workingDirectory: String,
        runArguments: [String] = [],
        user: String? = nil,
        group: String? = nil,
        publicPort: Int,
        stateDirectory: String = defaultStateDirectory,
        nftables: Bool = false,
        watchdogSeconds: Int = 30,
        graceSeconds: Int = 10
    ) {
        self.feisty = feisty
        self.interpreter = interpreter
        self.app = app
        self.workingDirectory = workingDirectory
        self.runArguments = runArguments
        self.user = user
        self.group = group
        self.publicPort = publicPort
        self.stateDirectory = stateDirectory
        self.nftables = nftables
        self.watchdogSeconds = watchdogSeconds
        self.graceSeconds = graceSeconds
    }

    /// The capabilities feisty needs (empty: none at all).
    public var capabilities: [String] {
        (publicPort < 1024 ? ["CAP_NET_BIND_SERVICE"] : []) + (nftables ? ["CAP_NET_ADMIN"] : [])
    }

    /// `ProtectHome=`: `read-only` when something the service must read lies under a home directory, else `yes`.
    public var protectHome: String {
        readPathsLie(under: ["/home", "/root", "/run/user"]) ? "read-only" : "yes"
    }

    /// `PrivateTmp=yes` hides the host's `/tmp`: only when nothing the service must read lies there.
    public var privateTmp: Bool { !readPathsLie(under: ["/tmp", "/var/tmp"]) }

    /// Whether feisty, the interpreter, the app or its directory lie under one of `directories`.
    private func readPathsLie(under directories: [String]) -> Bool {
        let read = [feisty, interpreter, workingDirectory] + (app.hasPrefix("/") ? [app] : [])
        return read.contains { path in directories.contains { path == $0 || path.hasPrefix($0 + "/") } }
    }

    /// `TimeoutStopSec=`: feisty's grace (draining, then the app's own stop) plus room for the rest of the shutdown.
    public var stopTimeoutSeconds: Int { graceSeconds * 2 + 5 }

    /// The command line, each word quoted for systemd.
    public var execStart: String {
        let words =
            [feisty, "run", "--python", interpreter, "--state-dir", stateDirectory] + runArguments + [app]
        return words.map(Self.quoted).joined(separator: " ")
    }

    /// The unit file's text.
    public var text: String {
        var service = [
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=\(execStart)",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "WorkingDirectory=\(Self.escaped(workingDirectory))",
        ]
        if let user {
            service.append("User=\(Self.escaped(user))")
            if let group { service.append("Group=\(Self.escaped(group))") }
        } else {
            service.append("DynamicUser=yes")
        }
        service += [
            "Restart=on-failure",
            "RestartSec=1s",
            "WatchdogSec=\(watchdogSeconds)s",
            "KillMode=mixed",
            "TimeoutStopSec=\(stopTimeoutSeconds)s",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=\(protectHome)",
        ]
        var writable = stateDirectory == Self.defaultStateDirectory ? [] : [stateDirectory]
        // feisty's scratch directory (the app's sockets) is made in /tmp: private, else the host's made writable.
        if privateTmp { service.append("PrivateTmp=yes") } else { writable.append("/tmp") }
        if stateDirectory == Self.defaultStateDirectory { service.append("StateDirectory=feisty") }
        if !writable.isEmpty { service.append("ReadWritePaths=\(writable.map(Self.quoted).joined(separator: " "))") }
        service.append("CapabilityBoundingSet=\(capabilities.joined(separator: " "))")
        if !capabilities.isEmpty { service.append("AmbientCapabilities=\(capabilities.joined(separator: " "))") }
        return """
            # Written by `feisty systemd`. Install as /etc/systemd/system/NAME.service, then
            # `systemctl daemon-reload && systemctl enable --now NAME`;
            # `systemctl reload NAME` reads --config again and deploys the code on disk.
            [Unit]
            Description=feisty: \(Self.escaped(app))
            Wants=network-online.target
            After=network-online.target

            [Service]
            \(service.joined(separator: "\n"))

            [Install]
            WantedBy=multi-user.target

            """
    }

    /// A value with systemd's specifier (`%`) and variable (`$`) characters escaped and line breaks spelled `\n`.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// One word of a command line or path list, in double quotes when it has blanks, quotes, backslashes or
    /// semicolons (systemd splits and unescapes such words the way a shell would).
    static func quoted(_ word: String) -> String {
        let special =
            word.isEmpty || word.contains { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == ";" }
        guard special else { return escaped(word) }
        let inner = word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"" + escaped(inner) + "\""
    }
}
