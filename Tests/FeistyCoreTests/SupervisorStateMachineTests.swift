import Testing

@testable import FeistyCore

/// The pool's decisions as case tables: each script feeds ``SupervisorStateMachine`` a sequence of events and checks
/// the exact actions every event returns (and that the pool never serves more than `--workers` instances).
@Suite struct SupervisorStateMachineTests {
    typealias Machine = SupervisorStateMachine
    typealias Action = SupervisorStateMachine.Action

    // MARK: start and ready

    static let starting: [SupervisorScript] = [
        .init(
            "one worker",
            [
                .on(.start, [.launch(1), .started(1)])
            ]
        ),
        .init(
            "three workers",
            workers: 3,
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3)])
            ]
        ),
        .init(
            "two workers and a standby",
            workers: 2,
            standby: true,
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3, "standby")])
            ]
        ),
        .init(
            "ready serving instances are published in start order; a standby is not",
            workers: 2,
            standby: true,
            serving: [1, 2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3, "standby")]),
                .on(.ready(2), [.readied(2), .publish([2])]),
                .on(.ready(1), [.readied(1), .publish([1, 2])]),
                .on(.ready(3), [.readied(3)]),
                // Twice, or an instance it never launched: nothing.
                .on(.ready(1), []),
                .on(.ready(9), []),
            ]
        ),
    ]

    @Test(arguments: starting) func startsAndPublishes(_ script: SupervisorScript) { script.run() }

    // MARK: crashes

    static let crashes: [SupervisorScript] = [
        .init(
            "a ready instance's crash: unpublished, successor at once, then backoff",
            workers: 2,
            serving: [5],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .exited(1, .crash(uptime: .seconds(5))),
                    [
                        .crashed(1, "exit code 1"), .publish([2]), .launch(3), .started(3),
                    ]
                ),
                .on(.ready(3), [.readied(3), .publish([2, 3])]),
                .on(
                    .exited(2, .crash(errorLine: "ZeroDivisionError: division by zero")),
                    [
                        .crashed(2, "exit code 1: ZeroDivisionError: division by zero"), .publish([3]),
                        .launch(4, after: .milliseconds(500)), .started(4),
                        .backoff("exit code 1; next start in 0.5 s"),
                    ]
                ),
                // The successor dies before it is ready: the app served before, so it is a crash in the loop.
                .on(
                    .exited(4, .crash(ready: false, errorLine: "ImportError: no module named x")),
                    [
                        .crashed(4, "the app exited while starting (exit code 1): ImportError: no module named x"),
                        .launch(5, after: .seconds(1)), .started(5),
                        .backoff(
                            "the app exited while starting (exit code 1): ImportError: no module named x; next start in 1 s"
                        ),
                    ]
                ),
                .on(.ready(5), [.readied(5), .publish([3, 5])]),
                // Up for a minute: healthy, so its crash restarts at once again.
                .on(
                    .exited(3, .crash(uptime: .seconds(60))),
                    [.crashed(3, "exit code 1"), .publish([5]), .launch(6), .started(6)]
                ),
            ]
        ),
        .init(
            "a readiness failure after the app served is a crash with that reason",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .exited(1, .crash(status: "signal 11 (SIGSEGV)")),
                    [
                        .crashed(1, "signal 11 (SIGSEGV)"), .publish([]), .launch(2), .started(2),
                    ]
                ),
                .on(
                    .exited(2, .timedOut),
                    [
                        .crashed(2, "the app did not answer HTTP on unix:/s within 30 s (--startup-timeout)"),
                        .launch(3, after: .milliseconds(500)), .started(3),
                        .backoff(
                            "the app did not answer HTTP on unix:/s within 30 s (--startup-timeout); next start in 0.5 s"
                        ),
                    ]
                ),
            ]
        ),
        .init(
            "crashes while successors boot start no extra successor; the backoff doubles to 30 s across the pool",
            workers: 2,
            serving: [],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .replace(2, .memory("rss 600 MB")),
                    [.event(.memory, 2, "rss 600 MB"), .launch(3), .started(3, "serving, replacing instance 2")]
                ),
                // 1 crashes while 3 boots to replace 2: 3 does not count for 1, so 1 gets its own successor.
                .on(.exited(1, .crash()), [.crashed(1, "exit code 1"), .publish([2]), .launch(4), .started(4)]),
                // 2 crashes too: 3 takes its place, no third successor.
                .on(.exited(2, .crash()), [.crashed(2, "exit code 1"), .publish([])]),
                .on(.ready(3), [.readied(3), .publish([3])]),
                .on(.ready(4), [.readied(4), .publish([3, 4])]),
                .on(
                    .exited(3, .crash()),
                    [
                        .crashed(3, "exit code 1"), .publish([4]), .launch(5, after: .milliseconds(500)), .started(5),
                        .backoff("exit code 1; next start in 0.5 s"),
                    ]
                ),
                .on(.ready(5), [.readied(5), .publish([4, 5])]),
                .on(
                    .exited(4, .crash()),
                    [
                        .crashed(4, "exit code 1"), .publish([5]), .launch(6, after: .seconds(1)), .started(6),
                        .backoff("exit code 1; next start in 1 s"),
                    ]
                ),
                .on(
                    .exited(6, .crash(ready: false)),
                    [
                        .crashed(6, "the app exited while starting (exit code 1)"), .launch(7, after: .seconds(2)),
                        .started(7),
                        .backoff("the app exited while starting (exit code 1); next start in 2 s"),
                    ]
                ),
                .on(
                    .exited(7, .crash(ready: false)),
                    [
                        .crashed(7, "the app exited while starting (exit code 1)"), .launch(8, after: .seconds(4)),
                        .started(8),
                        .backoff("the app exited while starting (exit code 1); next start in 4 s"),
                    ]
                ),
                .on(
                    .exited(5, .crash()),
                    [
                        .crashed(5, "exit code 1"), .publish([]), .launch(9, after: .seconds(8)), .started(9),
                        .backoff("exit code 1; next start in 8 s"),
                    ]
                ),
                .on(.ready(8), [.readied(8), .publish([8])]),
                .on(.ready(9), [.readied(9), .publish([8, 9])]),
                .on(
                    .exited(8, .crash()),
                    [
                        .crashed(8, "exit code 1"), .publish([9]), .launch(10, after: .seconds(16)), .started(10),
                        .backoff("exit code 1; next start in 16 s"),
                    ]
                ),
                .on(
                    .exited(10, .crash(ready: false)),
                    [
                        .crashed(10, "the app exited while starting (exit code 1)"), .launch(11, after: .seconds(30)),
                        .started(11),
                        .backoff("the app exited while starting (exit code 1); next start in 30 s"),
                    ]
                ),
                .on(
                    .exited(11, .crash(ready: false)),
                    [
                        .crashed(11, "the app exited while starting (exit code 1)"), .launch(12, after: .seconds(30)),
                        .started(12),
                        .backoff("the app exited while starting (exit code 1); next start in 30 s"),
                    ]
                ),
                .on(
                    .exited(9, .crash()),
                    [
                        .crashed(9, "exit code 1"), .publish([]), .launch(13, after: .seconds(30)), .started(13),
                        .backoff("exit code 1; next start in 30 s"),
                    ]
                ),
                .on(.ready(12), [.readied(12), .publish([12])]),
                .on(.ready(13), [.readied(13), .publish([12, 13])]),
                .on(.stop, [.publish([]), .stop(12), .stop(13)]),
                .on(.exited(12, .stopped), [.stoppedEvent(12, "signal 15 (SIGTERM)")]),
                .on(.exited(13, .stopped), [.stoppedEvent(13, "signal 15 (SIGTERM)"), .finish]),
            ]
        ),
        .init(
            "the crash of an instance being replaced: its replacement takes its place",
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .recycle("served 1000 requests")),
                    [
                        .event(.recycle, 1, "served 1000 requests"), .launch(2),
                        .started(2, "serving, replacing instance 1"),
                    ]
                ),
                .on(.exited(1, .crash()), [.crashed(1, "exit code 1"), .publish([])]),
                .on(.ready(2), [.readied(2), .publish([2])]),
            ]
        ),
        .init(
            "a replacement that dies before it is ready: its successor goes on with the swap",
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .slow("p95 3 s against 0.1 s")),
                    [
                        .event(.slow, 1, "p95 3 s against 0.1 s"), .launch(2),
                        .started(2, "serving, replacing instance 1"),
                    ]
                ),
                .on(
                    .exited(2, .crash(ready: false, errorLine: "MemoryError")),
                    [
                        .crashed(2, "the app exited while starting (exit code 1): MemoryError"), .launch(3),
                        .started(3),
                    ]
                ),
                // 1 served all along; 3 swaps in for it.
                .on(.ready(3), [.readied(3), .publish([3]), .swapped(3, 1), .drain(1)]),
                .on(.drained(1), [.stop(1)]),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)")]),
            ]
        ),
    ]

    @Test(arguments: crashes) func restartsCrashedInstances(_ script: SupervisorScript) { script.run() }

    // MARK: standby

    static let standby: [SupervisorScript] = [
        .init(
            "a ready standby takes a crashed instance's place; a new standby boots",
            standby: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .exited(1, .crash()),
                    [
                        .crashed(1, "exit code 1"), .publish([2]), .promoted(2, 1), .launch(3), .started(3, "standby"),
                    ]
                ),
                .on(.ready(3), [.readied(3)]),
                // The standby itself crashes: another standby, no publication.
                .on(.exited(3, .crash()), [.crashed(3, "exit code 1"), .launch(4), .started(4, "standby")]),
            ]
        ),
        .init(
            "two workers: the standby joins the remaining one",
            workers: 2,
            standby: true,
            serving: [2, 3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(.ready(3), [.readied(3)]),
                .on(
                    .exited(1, .crash(status: "signal 9 (SIGKILL)")),
                    [
                        .crashed(1, "signal 9 (SIGKILL)"), .publish([2, 3]), .promoted(3, 1), .launch(4),
                        .started(4, "standby"),
                    ]
                ),
            ]
        ),
        .init(
            "a hung instance while the standby boots gets its own successor; a standby that fails to boot is restarted",
            standby: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .hung("no answer for 10 s")),
                    [
                        .event(.hang, 1, "no answer for 10 s"), .publish([]), .kill(1), .launch(3), .started(3),
                    ]
                ),
                .on(
                    .exited(2, .crash(ready: false)),
                    [
                        .crashed(2, "the app exited while starting (exit code 1)"), .launch(4), .started(4, "standby"),
                    ]
                ),
                .on(.ready(3), [.readied(3), .publish([3])]),
                .on(.ready(4), [.readied(4)]),
            ]
        ),
        .init(
            "memory, recycling and slowness swap the ready standby in",
            standby: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .replace(1, .memory("rss 600 MB")),
                    [
                        .event(.memory, 1, "rss 600 MB"), .publish([2]), .promoted(2, 1), .drain(1), .launch(3),
                        .started(3, "standby"),
                    ]
                ),
                .on(.drained(1), [.stop(1)]),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)")]),
            ]
        ),
        .init(
            "a hung instance with a ready standby: the standby is published in its place, it is killed, a new standby boots",
            standby: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .replace(1, .hung("no answer for 10 s")),
                    [
                        .event(.hang, 1, "no answer for 10 s"), .publish([2]), .kill(1), .promoted(2, 1), .launch(3),
                        .started(3, "standby"),
                    ]
                ),
                .on(.exited(1, .killed), [.stoppedEvent(1, "signal 9 (SIGKILL)")]),
            ]
        ),
        .init(
            "the standby ready before the serving instance at startup serves; the booting serving one becomes the standby",
            standby: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(2), [.readied(2), .publish([2])]),
                .on(.ready(1), [.readied(1)]),
            ],
            wants: .init(serving: 1, standby: 1)
        ),
        .init(
            "a crash while the standby boots: the standby serves when ready, the crashed instance's successor becomes the standby",
            standby: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.exited(1, .crash()), [.crashed(1, "exit code 1"), .publish([]), .launch(3), .started(3)]),
                .on(.ready(2), [.readied(2), .publish([2])]),
                .on(.ready(3), [.readied(3)]),
            ],
            wants: .init(serving: 1, standby: 1)
        ),
        .init(
            "the crash of an instance being replaced while a standby is ready: the standby serves, the replacement stands by",
            standby: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(.exited(2, .crash()), [.crashed(2, "exit code 1"), .launch(3), .started(3, "standby")]),
                .on(
                    .replace(1, .memory("rss")),
                    [.event(.memory, 1, "rss"), .launch(4), .started(4, "serving, replacing instance 1")]
                ),
                .on(.ready(3), [.readied(3)]),
                // 4 replaces 1 no more: the standby takes 1's place, and a new standby boots.
                .on(
                    .exited(1, .crash()),
                    [.crashed(1, "exit code 1"), .publish([3]), .promoted(3, 1), .launch(5), .started(5, "standby")]
                ),
                // Nothing left for 4 to replace: ready, it beats the standby still booting, which is stopped.
                .on(.ready(4), [.readied(4), .event(.stop, 5, "not needed any more"), .stop(5)]),
                .on(.ready(5), []),
            ],
            wants: .init(serving: 1, standby: 1)
        ),
        .init(
            "a standby's replacement finishes after that standby was promoted: it serves in its place",
            standby: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .replace(2, .memory("rss")),
                    [.event(.memory, 2, "rss"), .launch(3), .started(3, "standby, replacing instance 2")]
                ),
                // The standby's replacement is booting: no other standby.
                .on(.exited(1, .crash()), [.crashed(1, "exit code 1"), .publish([2]), .promoted(2, 1)]),
                // 3 takes 2's role as it is now (serving); the pool has no standby left, so one boots.
                .on(
                    .ready(3),
                    [.readied(3), .publish([3]), .swapped(3, 2), .drain(2), .launch(4), .started(4, "standby")]
                ),
            ],
            wants: .init(serving: 1, standby: 1)
        ),
    ]

    @Test(arguments: standby) func switchesTheStandbyIn(_ script: SupervisorScript) { script.run() }

    // MARK: failing fast

    static let syntaxError = "SyntaxError: expected ':' (app.py, line 8)"

    static let failures: [SupervisorScript] = [
        .init(
            "the app exits before it ever served: fail with its error line",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(
                    .exited(1, .crash(ready: false, errorLine: syntaxError)),
                    [
                        .fail(
                            SupervisorError(.appFailedToStart, "the app failed to start (exit code 1): \(syntaxError)")
                        )
                    ]
                ),
            ]
        ),
        .init(
            "without an error line",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(
                    .exited(1, .crash(ready: false)),
                    [
                        .fail(SupervisorError(.appFailedToStart, "the app failed to start (exit code 1)"))
                    ]
                ),
            ]
        ),
        .init(
            "a startup timeout is the failure itself",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.exited(1, .timedOut), [.fail(SupervisorScript.timeout)]),
            ]
        ),
        .init(
            "any instance of the pool, the standby too, before any served",
            workers: 2,
            standby: true,
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3, "standby")]),
                .on(
                    .exited(3, .crash(ready: false, errorLine: syntaxError)),
                    [
                        .fail(
                            SupervisorError(.appFailedToStart, "the app failed to start (exit code 1): \(syntaxError)")
                        )
                    ]
                ),
            ]
        ),
        .init(
            "once one instance served, another one's failure to start is a crash",
            workers: 2,
            serving: [1],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .exited(2, .crash(ready: false, errorLine: syntaxError)),
                    [
                        .crashed(2, "the app exited while starting (exit code 1): \(syntaxError)"), .launch(3),
                        .started(3),
                    ]
                ),
            ]
        ),
    ]

    @Test(arguments: failures) func failsFastWhenTheAppNeverServed(_ script: SupervisorScript) { script.run() }

    // MARK: replacement

    @Test(arguments: [
        (Machine.ReplacementCause.memory("rss 600 MB > 512 MB (--max-rss)"), LifecycleEvent.Kind.memory),
        (.recycle("served 1000 requests (--max-requests)"), .recycle),
        (.slow("p95 2.4 s, 8x the baseline"), .slow),
    ])
    func aReplacementIsASwap(cause: Machine.ReplacementCause, kind: LifecycleEvent.Kind) {
        SupervisorScript(
            "\(kind) replaces by a swap",
            workers: 2,
            serving: [2, 3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                // The old one keeps serving while its replacement boots.
                .on(
                    .replace(1, cause),
                    [.event(kind, 1, cause.evidence), .launch(3), .started(3, "serving, replacing instance 1")]
                ),
                // Asked again (by another detector) while the replacement boots: nothing.
                .on(.replace(1, cause), []),
                .on(.replace(1, .recycle("age")), []),
                .on(.ready(3), [.readied(3), .publish([2, 3]), .swapped(3, 1), .drain(1)]),
                // Draining: not replaced again, drained once.
                .on(.replace(1, cause), []),
                .on(.drained(1), [.stop(1)]),
                .on(.drained(1), []),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)")]),
                .on(.exited(1, .stopped), []),
            ]
        ).run()
    }

    static let replacements: [SupervisorScript] = [
        .init(
            "a hung instance is unpublished and killed at once, its successor launched",
            workers: 2,
            serving: [2, 3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .replace(1, .hung("silent for 10 s with 3 requests in flight, probe unanswered")),
                    [
                        .event(.hang, 1, "silent for 10 s with 3 requests in flight, probe unanswered"), .publish([2]),
                        .kill(1),
                        .launch(3), .started(3),
                    ]
                ),
                .on(.replace(1, .hung("again")), []),
                .on(.exited(1, .killed), [.stoppedEvent(1, "signal 9 (SIGKILL)")]),
                .on(.ready(3), [.readied(3), .publish([2, 3])]),
            ]
        ),
        .init(
            "--no-overlap: drained and stopped first, the replacement launched once it exited",
            noOverlap: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.replace(1, .memory("rss 600 MB")), [.event(.memory, 1, "rss 600 MB"), .publish([]), .drain(1)]),
                .on(.replace(1, .memory("rss 700 MB")), []),
                .on(.drained(1), [.stop(1)]),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)"), .launch(2), .started(2)]),
                .on(.ready(2), [.readied(2), .publish([2])]),
            ]
        ),
        .init(
            "a starting or unknown instance is not replaced",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.replace(1, .memory("rss")), []),
                .on(.replace(7, .hung("?")), []),
            ]
        ),
        .init(
            "a hung instance already being replaced is unpublished and killed; its replacement fills the gap",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .memory("rss")),
                    [.event(.memory, 1, "rss"), .launch(2), .started(2, "serving, replacing instance 1")]
                ),
                .on(.replace(1, .hung("silent")), [.event(.hang, 1, "silent"), .publish([]), .kill(1)]),
            ],
            wants: .init(serving: 0, standby: 0, killed: [1])
        ),
        .init(
            "a hung instance already being replaced: the replacement serves when ready, no swap",
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .memory("rss")),
                    [.event(.memory, 1, "rss"), .launch(2), .started(2, "serving, replacing instance 1")]
                ),
                .on(.replace(1, .hung("silent")), [.event(.hang, 1, "silent"), .publish([]), .kill(1)]),
                .on(.ready(2), [.readied(2), .publish([2])]),
                .on(.exited(1, .killed), [.stoppedEvent(1, "signal 9 (SIGKILL)")]),
            ],
            wants: .init(serving: 1, standby: 0, killed: [1])
        ),
    ]

    @Test(arguments: replacements) func replacesInstances(_ script: SupervisorScript) { script.run() }

    // MARK: deploy

    static let deploys: [SupervisorScript] = [
        .init(
            "one instance at a time, each swap before the next",
            workers: 2,
            serving: [3, 4],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .launch(3),
                        .started(3, "serving, deploy: replacing instance 1"),
                    ]
                ),
                .on(.deploy, [.event(.deploy, nil, "a deploy is already in progress")]),
                .on(.replace(1, .recycle("age")), []),
                .on(
                    .ready(3),
                    [
                        .readied(3), .publish([2, 3]), .swapped(3, 1), .drain(1),
                        .launch(4), .started(4, "serving, deploy: replacing instance 2"),
                    ]
                ),
                .on(.drained(1), [.stop(1)]),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)")]),
                .on(
                    .ready(4),
                    [
                        .readied(4), .publish([3, 4]), .swapped(4, 2), .drain(2),
                        .event(.deploy, nil, "deploy complete"),
                    ]
                ),
                .on(.drained(2), [.stop(2)]),
                .on(.exited(2, .stopped), [.stoppedEvent(2, "signal 15 (SIGTERM)")]),
                // Done: another deploy may start.
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .launch(5),
                        .started(5, "serving, deploy: replacing instance 3"),
                    ]
                ),
            ]
        ),
        .init(
            "the standby is deployed too, after the serving instances",
            standby: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .launch(3),
                        .started(3, "serving, deploy: replacing instance 1"),
                    ]
                ),
                .on(
                    .ready(3),
                    [
                        .readied(3), .publish([3]), .swapped(3, 1), .drain(1), .launch(4),
                        .started(4, "standby, deploy: replacing instance 2"),
                    ]
                ),
                // A standby swapped for a standby: nothing to publish.
                .on(
                    .ready(4),
                    [.readied(4), .swapped(4, 2), .drain(2), .event(.deploy, nil, "deploy complete")]
                ),
            ]
        ),
        .init(
            "a candidate that exits before it is ready: refused, the old instances keep serving",
            workers: 2,
            serving: [2, 3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .launch(3),
                        .started(3, "serving, deploy: replacing instance 1"),
                    ]
                ),
                .on(
                    .ready(3),
                    [
                        .readied(3), .publish([2, 3]), .swapped(3, 1), .drain(1), .launch(4),
                        .started(4, "serving, deploy: replacing instance 2"),
                    ]
                ),
                .on(
                    .exited(4, .crash(ready: false, errorLine: syntaxError)),
                    [
                        .event(
                            .deployRefused,
                            4,
                            "deploy refused: the app exited while starting (exit code 1): \(syntaxError)"
                        )
                    ]
                ),
                // The deploy is over: the instances are replaced again as usual, and a new deploy may start.
                .on(.drained(1), [.stop(1)]),
                .on(
                    .replace(2, .memory("rss")),
                    [.event(.memory, 2, "rss"), .launch(5), .started(5, "serving, replacing instance 2")]
                ),
            ]
        ),
        .init(
            "a candidate that times out is refused with the timeout",
            serving: [1],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 1 instance(s)"), .launch(2),
                        .started(2, "serving, deploy: replacing instance 1"),
                    ]
                ),
                .on(
                    .exited(2, .timedOut),
                    [
                        .event(.deployRefused, 2, "deploy refused: \(SupervisorScript.timeout.message)")
                    ]
                ),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 1 instance(s)"), .launch(3),
                        .started(3, "serving, deploy: replacing instance 1"),
                    ]
                ),
            ]
        ),
        .init(
            "--no-overlap: each old instance drained and stopped before its successor starts",
            noOverlap: true,
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .deploy,
                    [.event(.deploy, nil, "deploying the code on disk to 1 instance(s)"), .publish([]), .drain(1)]
                ),
                .on(.drained(1), [.stop(1)]),
                .on(
                    .exited(1, .stopped),
                    [.stoppedEvent(1, "signal 15 (SIGTERM)"), .launch(2), .started(2, "serving, deploy")]
                ),
                .on(.ready(2), [.readied(2), .publish([2]), .event(.deploy, nil, "deploy complete")]),
            ]
        ),
        .init(
            "--no-overlap: a refused candidate is restarted, the pool must not shrink",
            noOverlap: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .deploy,
                    [.event(.deploy, nil, "deploying the code on disk to 1 instance(s)"), .publish([]), .drain(1)]
                ),
                .on(.drained(1), [.stop(1)]),
                .on(
                    .exited(1, .stopped),
                    [.stoppedEvent(1, "signal 15 (SIGTERM)"), .launch(2), .started(2, "serving, deploy")]
                ),
                .on(
                    .exited(2, .crash(ready: false, errorLine: syntaxError)),
                    [
                        .event(
                            .deployRefused,
                            2,
                            "deploy refused: the app exited while starting (exit code 1): \(syntaxError)"
                        ),
                        .launch(3), .started(3),
                    ]
                ),
                .on(.ready(3), [.readied(3), .publish([3])]),
            ]
        ),
        .init(
            "an instance still starting may hold the old code: it is deployed once ready",
            serving: [2],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.deploy, [.event(.deploy, nil, "deploying the code on disk to 1 instance(s)")]),
                .on(
                    .ready(1),
                    [.readied(1), .publish([1]), .launch(2), .started(2, "serving, deploy: replacing instance 1")]
                ),
                .on(
                    .ready(2),
                    [.readied(2), .publish([2]), .swapped(2, 1), .drain(1), .event(.deploy, nil, "deploy complete")]
                ),
            ],
            wants: .init(serving: 1, standby: 0)
        ),
        .init(
            "a deploy while a replacement boots: the instance it replaces is skipped, the replacement is deployed",
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .memory("rss")),
                    [.event(.memory, 1, "rss"), .launch(2), .started(2, "serving, replacing instance 1")]
                ),
                .on(.deploy, [.event(.deploy, nil, "deploying the code on disk to 2 instance(s)")]),
                .on(
                    .ready(2),
                    [
                        .readied(2), .publish([2]), .swapped(2, 1), .drain(1), .launch(3),
                        .started(3, "serving, deploy: replacing instance 2"),
                    ]
                ),
                .on(
                    .ready(3),
                    [.readied(3), .publish([3]), .swapped(3, 2), .drain(2), .event(.deploy, nil, "deploy complete")]
                ),
            ],
            wants: .init(serving: 1, standby: 0)
        ),
        .init(
            "--no-overlap deploy of the standby refused: the standby is restarted",
            standby: true,
            noOverlap: true,
            serving: [3],
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2)]),
                .on(
                    .deploy,
                    [.event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .publish([]), .drain(1)]
                ),
                .on(.drained(1), [.stop(1)]),
                .on(
                    .exited(1, .stopped),
                    [.stoppedEvent(1, "signal 15 (SIGTERM)"), .launch(3), .started(3, "serving, deploy")]
                ),
                .on(.ready(3), [.readied(3), .publish([3]), .publish([3]), .drain(2)]),
                .on(.drained(2), [.stop(2)]),
                .on(
                    .exited(2, .stopped),
                    [.stoppedEvent(2, "signal 15 (SIGTERM)"), .launch(4), .started(4, "standby, deploy")]
                ),
                .on(
                    .exited(4, .crash(ready: false)),
                    [
                        .event(.deployRefused, 4, "deploy refused: the app exited while starting (exit code 1)"),
                        .launch(5), .started(5, "standby"),
                    ]
                ),
            ],
            wants: .init(serving: 1, standby: 1)
        ),
    ]

    @Test(arguments: deploys) func deploysOneInstanceAtATime(_ script: SupervisorScript) { script.run() }

    // MARK: stop

    static let stops: [SupervisorScript] = [
        .init(
            "every slot is unpublished and stopped; finished once all exited",
            workers: 2,
            standby: true,
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2), .launch(3), .started(3, "standby")]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(.stop, [.publish([]), .stop(1), .stop(2), .stop(3)]),
                // Starting when asked to stop: stopped, never published.
                .on(.ready(3), []),
                .on(.replace(1, .memory("rss")), []),
                .on(.deploy, []),
                .on(.drained(1), []),
                .on(.exited(2, .stopped), [.stoppedEvent(2, "signal 15 (SIGTERM)")]),
                .on(.exited(3, .crash(ready: false)), [.stoppedEvent(3, "exit code 1")]),
                // Whatever the exit (a crash), once feisty stops it is the end.
                .on(.exited(1, .crash()), [.stoppedEvent(1, "exit code 1"), .finish]),
            ]
        ),
        .init(
            "an instance already stopping (killed, drained) is not stopped twice",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(
                    .replace(1, .hung("silent")),
                    [.event(.hang, 1, "silent"), .publish([]), .kill(1), .launch(2), .started(2)]
                ),
                .on(.stop, [.publish([]), .stop(2)]),
                .on(.exited(2, .stopped), [.stoppedEvent(2, "signal 15 (SIGTERM)")]),
                .on(.exited(1, .killed), [.stoppedEvent(1, "signal 9 (SIGKILL)"), .finish]),
            ]
        ),
        .init(
            "a deploy in progress ends; draining and starting instances are stopped too",
            workers: 2,
            [
                .on(.start, [.launch(1), .started(1), .launch(2), .started(2)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.ready(2), [.readied(2), .publish([1, 2])]),
                .on(
                    .deploy,
                    [
                        .event(.deploy, nil, "deploying the code on disk to 2 instance(s)"), .launch(3),
                        .started(3, "serving, deploy: replacing instance 1"),
                    ]
                ),
                .on(
                    .ready(3),
                    [
                        .readied(3), .publish([2, 3]), .swapped(3, 1), .drain(1), .launch(4),
                        .started(4, "serving, deploy: replacing instance 2"),
                    ]
                ),
                .on(.stop, [.publish([]), .stop(1), .stop(2), .stop(3), .stop(4)]),
                .on(.ready(4), []),
                .on(.exited(1, .stopped), [.stoppedEvent(1, "signal 15 (SIGTERM)")]),
                .on(.exited(4, .notStarted), [.stoppedEvent(4, "not started")]),
                .on(.exited(3, .stopped), [.stoppedEvent(3, "signal 15 (SIGTERM)")]),
                .on(.exited(2, .stopped), [.stoppedEvent(2, "signal 15 (SIGTERM)"), .finish]),
            ]
        ),
        .init(
            "stopped during a crash-loop backoff",
            [
                .on(.start, [.launch(1), .started(1)]),
                .on(.ready(1), [.readied(1), .publish([1])]),
                .on(.exited(1, .crash()), [.crashed(1, "exit code 1"), .publish([]), .launch(2), .started(2)]),
                .on(
                    .exited(2, .crash(ready: false)),
                    [
                        .crashed(2, "the app exited while starting (exit code 1)"),
                        .launch(3, after: .milliseconds(500)), .started(3),
                        .backoff("the app exited while starting (exit code 1); next start in 0.5 s"),
                    ]
                ),
                .on(.stop, [.publish([]), .stop(3)]),
                .on(.exited(3, .notStarted), [.stoppedEvent(3, "not started"), .finish]),
            ]
        ),
        .init(
            "nothing running: unpublished (nothing) and finished at once",
            [
                .on(.stop, [.publish([]), .finish])
            ]
        ),
    ]

    @Test(arguments: stops) func stopsEverything(_ script: SupervisorScript) { script.run() }
}

/// One scripted run of ``SupervisorStateMachine``.
struct SupervisorScript: Sendable, CustomTestStringConvertible {
    typealias Machine = SupervisorStateMachine
    typealias Action = SupervisorStateMachine.Action

    /// The readiness failure of the scripts' timeouts.
    static let timeout = SupervisorError(
        .startupTimedOut,
        "the app did not answer HTTP on unix:/s within 30 s (--startup-timeout)"
    )

    /// An event fed to the machine.
    enum Step: Sendable, CustomStringConvertible {
        case start
        case ready(Int)
        case exited(Int, Exit)
        case replace(Int, Machine.ReplacementCause)
        case deploy
        case drained(Int)
        case stop

        var description: String {
            switch self {
            case .start: "start()"
            case .ready(let id): "ready(\(id))"
            case .exited(let id, let exit): "exited(\(id), \(exit.status))"
            case .replace(let id, let cause): "replace(\(id), \(cause))"
            case .deploy: "deploy()"
            case .drained(let id): "drained(\(id))"
            case .stop: "stop()"
            }
        }
    }

    /// How an instance ended, relative to the moment of the event.
    struct Exit: Sendable {
        var status = "exit code 1"
        var uptime: Duration = .seconds(1)
        var becameReady = true
        var stopRequested = false
        var readinessFailure: SupervisorError?
        var errorLine: String?

        static func crash(
            status: String = "exit code 1",
            uptime: Duration = .seconds(1),
            ready: Bool = true,
            errorLine: String? = nil
        ) -> Exit {
            Exit(status: status, uptime: uptime, becameReady: ready, errorLine: errorLine)
        }

        static let stopped = Exit(status: "signal 15 (SIGTERM)", stopRequested: true)
        static let killed = Exit(status: "signal 9 (SIGKILL)", stopRequested: true)
        static let notStarted = Exit(status: "not started", uptime: .zero, becameReady: false, stopRequested: true)
        static let timedOut = Exit(
            status: "signal 15 (SIGTERM)",
            uptime: .seconds(30),
            becameReady: false,
            readinessFailure: SupervisorScript.timeout
        )
    }

    /// One event and the exact actions it must return.
    struct Expectation: Sendable {
        var step: Step
        var actions: [Action]

        static func on(_ step: Step, _ actions: [Action]) -> Self { Self(step: step, actions: actions) }
    }

    /// The pool's shape a script expects at its end.
    struct Shape: Sendable {
        var serving: Int
        /// Standby slots (any phase) expected; `nil`: not checked.
        var standby: Int?
        /// Instances that must have been killed along the way.
        var killed: [Int] = []
    }

    var name: String
    var configuration: Machine.Configuration
    var steps: [Expectation]
    /// The ready serving instances at the end (`nil`: not checked).
    var serving: [Int]?
    var wants: Shape?

    var testDescription: String { name }

    init(
        _ name: String,
        workers: Int = 1,
        standby: Bool = false,
        noOverlap: Bool = false,
        serving: [Int]? = nil,
        _ steps: [Expectation],
        wants: Shape? = nil
    ) {
        self.name = name
        self.configuration = .init(workers: workers, standby: standby, noOverlap: noOverlap)
        self.steps = steps
        self.serving = serving
        self.wants = wants
    }

    /// Runs the script with the default restart policy (at once, then 0.5 s doubling to 30 s).
    func run() {
        var machine = Machine(configuration: configuration, restartPolicy: RestartPolicy())
        let now = ContinuousClock.now
        var all: [Action] = []
        for (index, expectation) in steps.enumerated() {
            let actions = Self.apply(expectation.step, to: &machine, now: now)
            all += actions
            #expect(actions == expectation.actions, "step \(index + 1): \(expectation.step)")
            #expect(
                machine.serving.count <= configuration.workers,
                "step \(index + 1): \(expectation.step) serves \(machine.serving) with \(configuration.workers) worker(s)"
            )
        }
        if let serving {
            #expect(machine.serving == serving, "serving at the end")
        }
        if let wants {
            #expect(machine.serving.count == wants.serving, "serving \(machine.serving)")
            if let standby = wants.standby {
                let standbys = machine.slots.values.filter {
                    $0.role == .standby && $0.phase != .stopping && $0.phase != .draining
                }
                #expect(standbys.count == standby, "standby slots \(standbys.map(\.id))")
            }
            for id in wants.killed { #expect(all.contains(.kill(id)), "instance \(id) was not killed") }
        }
    }

    static func apply(_ step: Step, to machine: inout Machine, now: ContinuousClock.Instant) -> [Action] {
        switch step {
        case .start:
            return machine.start()
        case .ready(let id):
            return machine.ready(id)
        case .exited(let id, let exit):
            return machine.exited(
                id,
                .init(
                    startedAt: now - exit.uptime,
                    exitedAt: now,
                    status: exit.status,
                    becameReady: exit.becameReady,
                    stopRequested: exit.stopRequested,
                    readinessFailure: exit.readinessFailure,
                    errorLine: exit.errorLine
                )
            )
        case .replace(let id, let cause):
            return machine.replace(id, cause: cause)
        case .deploy:
            return machine.deploy()
        case .drained(let id):
            return machine.drained(id)
        case .stop:
            return machine.stop()
        }
    }
}

extension SupervisorStateMachine.Action {
    static func launch(_ id: Int, after delay: Duration = .zero) -> Self { .launch(id: id, after: delay) }

    static func event(_ kind: LifecycleEvent.Kind, _ id: Int?, _ cause: String) -> Self {
        .record(LifecycleEvent(kind, instance: id, cause: cause))
    }

    static func started(_ id: Int, _ why: String = "serving") -> Self { event(.start, id, why) }
    static func readied(_ id: Int) -> Self { event(.ready, id, "ready") }
    static func crashed(_ id: Int, _ cause: String) -> Self { event(.crash, id, cause) }
    static func stoppedEvent(_ id: Int, _ status: String) -> Self { event(.stop, id, status) }
    static func swapped(_ new: Int, _ old: Int) -> Self { event(.swap, new, "instance \(new) replaces \(old)") }
    static func promoted(_ standby: Int, _ old: Int) -> Self {
        event(.swap, standby, "standby \(standby) replaces \(old)")
    }
    static func backoff(_ cause: String) -> Self { event(.backoff, nil, cause) }
}
