import Foundation
import Subprocess
import Testing

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

@testable import FeistyCore

/// `feisty systemd`: the unit's directives follow from the run's settings, and systemd accepts the result.
@Suite struct SystemdUnitTests {
    static func unit(
        app: String = "/srv/shop/app.py",
        user: String? = "www",
        group: String? = nil,
        port: Int = 8000,
        state: String = SystemdUnit.defaultStateDirectory,
        nftables: Bool = false,
        feisty: String = "/usr/local/bin/feisty",
        arguments: [String] = []
    ) -> SystemdUnit {
        SystemdUnit(
            feisty: feisty,
            interpreter: "/usr/bin/python3",
            app: app,
            workingDirectory: app.hasPrefix("/") ? URL(fileURLWithPath: app).deletingLastPathComponent().path : "/srv",
            runArguments: arguments,
            user: user,
            group: group,
            publicPort: port,
            stateDirectory: state,
            nftables: nftables
        )
    }

    /// Lines every unit has, whatever the settings.
    @Test func alwaysStatesTheServiceContract() {
        let lines = Set(Self.unit().text.split(separator: "\n").map(String.init))
        for line in [
            "Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=on-failure", "NoNewPrivileges=yes",
            "ProtectSystem=strict", "KillMode=mixed", "ExecReload=/bin/kill -HUP $MAINPID",
            "WorkingDirectory=/srv/shop", "TimeoutStopSec=25s",
        ] {
            #expect(lines.contains(line), "missing \(line)")
        }
    }

    @Test(
        arguments: [
            // (unit, lines it must have, lines it must not have)
            (
                unit(port: 80),
                ["CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE"],
                ["CapabilityBoundingSet="]
            ),
            (unit(port: 1024), ["CapabilityBoundingSet="], ["AmbientCapabilities=CAP_NET_BIND_SERVICE"]),
            (
                unit(port: 8000, nftables: true),
                ["CapabilityBoundingSet=CAP_NET_ADMIN", "AmbientCapabilities=CAP_NET_ADMIN"], []
            ),
            (
                unit(port: 443, nftables: true),
                ["AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN"], []
            ),
            (unit(app: "/home/ann/shop/app.py"), ["ProtectHome=read-only", "PrivateTmp=yes"], ["ProtectHome=yes"]),
            (unit(feisty: "/root/bin/feisty"), ["ProtectHome=read-only"], ["ProtectHome=yes"]),
            (unit(app: "/srv/shop/app.py"), ["ProtectHome=yes", "PrivateTmp=yes"], ["ProtectHome=read-only"]),
            (unit(app: "/tmp/shop/app.py"), ["ReadWritePaths=/tmp"], ["PrivateTmp=yes"]),
            (unit(user: nil), ["DynamicUser=yes"], ["User=www"]),
            (unit(user: "www", group: "web"), ["User=www", "Group=web"], ["DynamicUser=yes"]),
            (
                unit(state: SystemdUnit.defaultStateDirectory), ["StateDirectory=feisty"],
                ["ReadWritePaths=/var/lib/feisty"]
            ),
            (unit(state: "/data/feisty state"), ["ReadWritePaths=\"/data/feisty state\""], ["StateDirectory=feisty"]),
            (
                unit(app: "shop.wsgi:app"),
                [
                    "ExecStart=/usr/local/bin/feisty run --python /usr/bin/python3 --state-dir /var/lib/feisty "
                        + "shop.wsgi:app"
                ],
                []
            ),
            (
                unit(arguments: ["--listen", "0.0.0.0:80", "--health-path", "/100%", "--deny", "$x y"]),
                [
                    "ExecStart=/usr/local/bin/feisty run --python /usr/bin/python3 --state-dir /var/lib/feisty "
                        + "--listen 0.0.0.0:80 --health-path /100%% --deny \"$$x y\" /srv/shop/app.py"
                ], []
            ),
        ] as [(SystemdUnit, [String], [String])]
    )
    func directivesFollowTheSettings(unit: SystemdUnit, present: [String], absent: [String]) {
        let lines = Set(unit.text.split(separator: "\n").map(String.init))
        for line in present { #expect(lines.contains(line), "missing \(line) in\n\(unit.text)") }
        for line in absent { #expect(!lines.contains(line), "unexpected \(line) in\n\(unit.text)") }
    }

    @Test(
        arguments: [
            ("app.py", "app.py"),
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("50%", "50%%"),
            ("$HOME", "$$HOME"),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            (";", "\";\""),
            ("two\nlines", "\"two\\nlines\""),
        ]
    )
    func wordsAreQuotedForSystemd(word: String, quoted: String) {
        #expect(SystemdUnit.quoted(word) == quoted)
    }

    @Test(
        arguments: [
            (["app.py", "--user", "www", "--listen", ":80"], "app.py", ["--listen", ":80"]),
            (["--user=www", "--group", "web", "app.py", "--workers", "2"], "app.py", ["--workers", "2"]),
            (["app.py", "--python", "venv/bin/python", "--state-dir=/x", "--http11"], "app.py", ["--http11"]),
            (
                ["pkg:create_app()", "--", "--deny", "pkg:create_app()"], "pkg:create_app()",
                ["--deny", "pkg:create_app()"]
            ),
        ]
    )
    func runFlagsPassThroughWithoutWhatTheUnitStates(arguments: [String], app: String, expected: [String]) {
        #expect(SystemdRunArguments.passedThrough(arguments, app: app) == expected)
    }

    /// systemd's own parser accepts the unit: verify prints nothing (it also warns, exit 0, on a bad value).
    @Test func systemdAnalyzeAcceptsTheUnit() async throws {
        let analyzer = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyzer) else {
            print("SKIPPED systemdAnalyzeAcceptsTheUnit: \(analyzer) is not installed (apt-get install systemd)")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-unit-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("feisty-test.service").path
        for unit in [
            Self.unit(
                user: "daemon",
                port: 80,
                nftables: true,
                feisty: "/bin/sh",
                arguments: ["--listen", "0.0.0.0:80"]
            ),
            Self.unit(app: "/tmp/shop app/app.py", user: nil, state: "/var/tmp", feisty: "/bin/sh"),
        ] {
            try unit.text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await Subprocess.run(
                .path(FilePath(analyzer)),
                arguments: ["verify", "--man=no", path],
                output: .string(limit: 1 << 20),
                error: .string(limit: 1 << 20)
            )
            let complaints = result.standardOutput + result.standardError
            #expect(result.terminationStatus.isSuccess, "\(complaints)\n\(unit.text)")
            #expect(complaints.isEmpty, "\(complaints)\n\(unit.text)")
        }
    }
}
