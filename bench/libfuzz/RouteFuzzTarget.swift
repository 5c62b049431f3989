import Foundation

// The libFuzzer entry points for the request-target decoder and the matcher (built by bench/libfuzz_routes.sh
// together with Sources/FeistyCore/Routes and Sources/FeistyFuzzing, as one module).
//
// Each input is one request: byte 0 picks the route table, byte 1 the method, byte 2 the host and whether it is a
// WebSocket handshake, the rest is the request target (invalid UTF-8 is repaired to U+FFFD, as the proxy's
// HTTP parser hands it over). A broken `RouteInvariants` aborts, so libFuzzer saves the input as a crash.

/// The matchers and hosts, prepared once in `LLVMFuzzerInitialize`; only read afterwards.
nonisolated(unsafe) private var prepared: [(matcher: RouteMatcher, hosts: [String])] = []

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    guard let path = ProcessInfo.processInfo.environment["FEISTY_FUZZ_TABLES"],
        let data = FileManager.default.contents(atPath: path),
        let oracle = try? JSONDecoder().decode(WerkzeugOracleOutput.self, from: data)
    else {
        fputs("FEISTY_FUZZ_TABLES must name the output of werkzeug_oracle.py\n", stderr)
        exit(2)
    }
    for ruleset in oracle.rulesets {
        guard let matcher = try? RouteMatcher(table: ruleset.table) else { continue }
        prepared.append((matcher, FuzzRequestGenerator(table: ruleset.table).hosts))
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3, !prepared.isEmpty else { return 0 }
    let (matcher, hosts) = prepared[Int(data[0]) % prepared.count]
    let methods = FuzzRequestGenerator.methods
    let request = FuzzRequest(
        method: methods[Int(data[1]) % methods.count],
        target: String(decoding: UnsafeBufferPointer(start: data + 3, count: size - 3), as: UTF8.self),
        host: hosts[Int(data[2] >> 1) % hosts.count],
        websocket: data[2] & 1 == 1
    )
    if let problem = RouteInvariants.violation(matcher, request) {
        fputs("invariant broken: \(request): \(problem)\n", stderr)
        abort()
    }
    return 0
}
