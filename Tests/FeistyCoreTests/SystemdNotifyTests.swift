import Foundation
import Testing

@testable import FeistyCore

/// What feisty tells systemd, and when: decided without a socket.
@Suite struct SystemdNotifyTests {
    @Test(
        arguments: [
            (
                ["NOTIFY_SOCKET": "/run/systemd/notify"],
                SystemdNotifyEnvironment.SocketAddress.path("/run/systemd/notify")
            ),
            (
                ["NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify/42"],
                .abstract("/org/freedesktop/systemd1/notify/42")
            ),
            (["NOTIFY_SOCKET": "vsock:2:1234"], nil),
            (["NOTIFY_SOCKET": "@"], nil),
            (["NOTIFY_SOCKET": "relative/path"], nil),
            ([:], nil),
        ] as [([String: String], SystemdNotifyEnvironment.SocketAddress?)]
    )
    func theSocketIsAPathOrAnAbstractName(
        environment: [String: String],
        socket: SystemdNotifyEnvironment.SocketAddress?
    ) {
        #expect(SystemdNotifyEnvironment(environment: environment, processID: 7).socket == socket)
    }

    @Test(
        arguments: [
            (["WATCHDOG_USEC": "2000000"], Duration.seconds(1) as Duration?),
            (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"], .seconds(1)),
            (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "8"], nil),  // another process's watchdog
            (["WATCHDOG_USEC": "0"], nil),
            (["WATCHDOG_USEC": "soon"], nil),
            ([:], nil),
        ] as [([String: String], Duration?)]
    )
    func theWatchdogIsFedAtHalfItsTimeout(environment: [String: String], interval: Duration?) {
        #expect(SystemdNotifyEnvironment(environment: environment, processID: 7).watchdogInterval == interval)
    }

    @Test func aRunIsReadyOnceThenReloadsAndStops() {
        var state = SystemdNotifyState()
        // Nothing to say before it serves: a reload or instance count before READY=1 stays quiet.
        #expect(state.published(instances: 1).isEmpty)
        #expect(state.reload(inProgress: true, monotonicMicroseconds: 5).isEmpty)
        #expect(state.reload(inProgress: false, monotonicMicroseconds: 6).isEmpty)
        #expect(
            state.served(app: "app.py", address: "127.0.0.1:5000")
                == [.ready(status: "serving app.py on http://127.0.0.1:5000/, 1 instance ready")]
        )
        #expect(state.served(app: "app.py", address: "127.0.0.1:5000").isEmpty)  // once
        #expect(
            state.published(instances: 2) == [.status("serving app.py on http://127.0.0.1:5000/, 2 instances ready")]
        )
        #expect(state.published(instances: 2).isEmpty)  // unchanged: nothing sent
        #expect(
            state.reload(inProgress: true, monotonicMicroseconds: 1234)
                == [
                    .reloading(
                        monotonicMicroseconds: 1234,
                        status: "reloading the configuration, deploying the code on disk"
                    )
                ]
        )
        #expect(state.published(instances: 3).isEmpty)  // the swap's counts stay quiet during a reload
        #expect(state.published(instances: 2).isEmpty)
        #expect(
            state.reload(inProgress: false, monotonicMicroseconds: 2000)
                == [.ready(status: "serving app.py on http://127.0.0.1:5000/, 2 instances ready")]
        )
        let crash = LifecycleEvent(.crash, instance: 3, cause: "exit status 1")
        #expect(state.recorded(crash) == [.status("crash instance 3: exit status 1")])
        #expect(state.recorded(LifecycleEvent(.start, instance: 4, cause: "replacing instance 3")).isEmpty)
        #expect(state.shutdown() == [.stopping])
        #expect(state.shutdown().isEmpty)
        #expect(state.recorded(crash).isEmpty)  // stopping: systemctl shows "stopping" to the end
        #expect(state.reload(inProgress: true, monotonicMicroseconds: 9).isEmpty)
    }

    @Test(
        arguments: [
            (ServiceNotification.ready(status: "ok"), "READY=1\nSTATUS=ok"),
            (
                .reloading(monotonicMicroseconds: 42, status: "deploying"),
                "RELOADING=1\nMONOTONIC_USEC=42\nSTATUS=deploying"
            ),
            (.stopping, "STOPPING=1\nSTATUS=stopping"),
            (.status("two\nlines"), "STATUS=two lines"),
            (.watchdog, "WATCHDOG=1"),
        ]
    )
    func datagramsAreKeyValueLines(notification: ServiceNotification, datagram: String) {
        #expect(notification.datagram == datagram)
    }

    /// The notifier's datagrams reach a real socket bound in a temporary directory.
    @Test func theNotifierWritesToARealSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("feisty-notify-\(getpid()).sock").path
        unlink(path)
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(receiver >= 0)
        defer {
            close(receiver)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        let notifier = try #require(SystemdNotifier(socket: .path(path), watchdogInterval: nil))
        notifier.served(app: "app.py", address: "[::1]:80")
        notifier.watchdog()
        var buffer = [UInt8](repeating: 0, count: 512)
        for expected in ["READY=1\nSTATUS=serving app.py on http://[::1]:80/, 1 instance ready", "WATCHDOG=1"] {
            let count = recv(receiver, &buffer, buffer.count, 0)
            #expect(String(decoding: buffer[..<max(0, count)], as: UTF8.self) == expected)
        }
    }
}
