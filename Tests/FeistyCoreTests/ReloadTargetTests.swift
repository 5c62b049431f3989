import Testing

@testable import FeistyCore

/// `feisty reload` picks exactly one running `feisty run`, or says why it cannot.
@Suite struct ReloadTargetTests {
    static let running = [
        RunningFeisty(processID: 10, arguments: ["app.py", "--listen", "127.0.0.1:8000"]),
        RunningFeisty(processID: 11, arguments: ["other.py", "--listen=127.0.0.1:9000", "--workers", "2"]),
        RunningFeisty(processID: 12, arguments: ["app.py", "--listen", "127.0.0.1:8001"]),
    ]

    @Test(
        arguments: [
            (nil, nil, nil as Int32?),  // three candidates: ambiguous
            ("other.py", nil, 11),
            ("app.py", nil, nil),  // two serve app.py
            ("app.py", "127.0.0.1:8001", 12),
            (nil, "127.0.0.1:9000", 11),  // --listen=VALUE form
            ("missing.py", nil, nil),
        ] as [(String?, String?, Int32?)]
    )
    func choosesOneOrExplains(app: String?, listen: String?, expected: Int32?) {
        let result = RunningFeisty.choose(from: Self.running, app: app, listen: listen)
        switch result {
        case .success(let found): #expect(found.processID == expected)
        case .failure(let error):
            #expect(expected == nil)
            #expect(error.message.contains("several") || error.message.contains("no running"))
        }
    }

    @Test func theOnlyOneIsChosenWithoutArguments() throws {
        let only = [RunningFeisty(processID: 42, arguments: ["app.py"])]
        #expect(try RunningFeisty.choose(from: only, app: nil).get().processID == 42)
        #expect(RunningFeisty.choose(from: [], app: nil).failureMessage == "no `feisty run` is running")
    }
}

extension Result where Failure == ReloadError {
    fileprivate var failureMessage: String? {
        if case .failure(let error) = self { return error.message }
        return nil
    }
}
