import Foundation
import Testing

@testable import FeistyCore

#if os(Linux)

/// `nft` under `--user` is started by ``NetAdminThread`` itself (posix_spawn from that thread): its input, output,
/// error and exit status, with real programs.
@Suite struct NetAdminThreadTests {
    let thread = NetAdminThread()

    @Test func theInputReachesTheProgramAndItsOutputComesBack() async throws {
        let ended = try await thread.runCapturing(["cat"], input: "table inet feisty {}\n", limit: 1 << 20)
        #expect(ended.succeeded)
        #expect(ended.output == "table inet feisty {}\n")
        #expect(ended.error == "")
    }

    /// More than a pipe holds both ways at once: the input is written while the output is read.
    @Test func aLargeInputAndOutputDoNotDeadlock() async throws {
        let input = String(repeating: "add element inet feisty banned4 { 192.0.2.7 }\n", count: 40_000)
        let ended = try await thread.runCapturing(["cat"], input: input, limit: 8 << 20)
        #expect(ended.succeeded)
        #expect(ended.output == input)
    }

    @Test func theErrorAndAFailingStatusAreKept() async throws {
        let ended = try await thread.runCapturing(
            ["sh", "-c", "echo 'Error: no such table' >&2; exit 3"],
            input: "",
            limit: 1 << 20
        )
        #expect(!ended.succeeded)
        #expect((ended.status >> 8) & 0xff == 3)
        #expect(ended.error == "Error: no such table\n")
    }

    /// A program that reads nothing: writing to it fails (EPIPE) instead of killing feisty with SIGPIPE.
    @Test func aProgramThatIgnoresItsInputEndsCleanly() async throws {
        let ended = try await thread.runCapturing(
            ["true"],
            input: String(repeating: "x", count: 1 << 20),
            limit: 1 << 20
        )
        #expect(ended.succeeded)
    }

    @Test func theOutputIsCutAtTheLimit() async throws {
        let ended = try await thread.runCapturing(["cat"], input: String(repeating: "y", count: 10_000), limit: 100)
        #expect(ended.output == String(repeating: "y", count: 100))
    }

    @Test func aMissingProgramIsAnError() async {
        await #expect(throws: PrivilegeError.self) {
            _ = try await thread.runCapturing(["no-such-program-feisty"], input: "", limit: 100)
        }
    }

    /// The program starts from the thread, not from swift-subprocess's: it inherits what is the thread's alone. A
    /// thread's nice value is its own (Linux), and a child starts with its forking thread's.
    @Test func theProgramStartsFromTheThread() async throws {
        let id = thread.threadID
        let niced = thread.run { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(id), 7) == 0 }
        try #require(niced)
        let ended = try await thread.runCapturing(["cat", "/proc/self/stat"], input: "", limit: 1 << 20)
        // After the command's name in parentheses: state is field 3, nice is field 19.
        let fields = try #require(ended.output.split(separator: ")").last).split(separator: " ")
        #expect(fields[16] == "7")
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) != 7)
    }
}
#endif
