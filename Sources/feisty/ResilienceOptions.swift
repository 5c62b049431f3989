import ArgumentParser
import FeistyCore

/// The flags of the instance pool and its detectors (`feisty run` launch mode), mapped onto
/// `AppSupervisor.Policy` in one place.
struct ResilienceOptions: ParsableArguments {
    @Option(help: "App instances serving requests, balanced by least outstanding requests.")
    var workers: Int = 1

    @Flag(help: "Keep one more instance booted and idle, so a failed one is replaced by switching, not booting.")
    var standby = false

    @Flag(help: "Never run two instances of the app at once: stop an instance before its replacement starts.")
    var noOverlap = false

    @Option(help: "Seconds without a response byte (confirmed by a probe) after which an instance is hung; 0: off.")
    var hangTimeout: String = "10"

    @Option(help: "Seconds without traffic after which an idle instance is probed; 0: never.")
    var idleProbe: String = "30"

    @Option(help: "Path of readiness and health probes (default: a declared GET route without parameters).")
    var healthPath: String?

    @Option(help: "Swap an instance whose process group stays above this resident memory for 3 s, e.g. 512m.")
    var maxRss: String?

    @Option(help: "Swap an instance after about this many requests (with jitter).")
    var maxRequests: Int?

    @Option(help: "Swap an instance after about this long (with jitter), e.g. 6h.")
    var maxAge: String?

    @Option(help: "Swap an instance whose recent p95 on a route exceeds this multiple of the route's baseline; 0: off.")
    var slowFactor: Double = 3

    @Option(help: "The window of the slowness check, e.g. 30s.")
    var slowWindow: String = "30"

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64") }
        if let maxRequests, maxRequests < 1 { throw ValidationError("--max-requests must be at least 1") }
        guard slowFactor == 0 || slowFactor > 1 else { throw ValidationError("--slow-factor must be above 1 (0: off)") }
        if let healthPath, !healthPath.hasPrefix("/") { throw ValidationError("--health-path must start with /") }
    }

    /// The supervisor policy these flags describe.
    /// - Throws: `ProxyError` for a size or duration that does not parse.
    func policy() throws(ProxyError) -> AppSupervisor.Policy {
        var policy = AppSupervisor.Policy()
        policy.workers = workers
        policy.standby = standby
        policy.noOverlap = noOverlap
        let hang = try ProxyValueParsing.seconds(hangTimeout).duration
        policy.hangTimeout = hang == .zero ? nil : hang
        let idle = try ProxyValueParsing.seconds(idleProbe).duration
        policy.idleProbeInterval = idle == .zero ? nil : idle
        if let maxRss {
            guard let bytes = try ProxyValueParsing.size(maxRss) else { throw .invalidSize(maxRss) }
            policy.maxResidentBytes = bytes
        }
        policy.recycle = RecyclePolicy(
            maxRequests: maxRequests,
            maxAge: try maxAge.map { (text) throws(ProxyError) in try ProxyValueParsing.seconds(text).duration }
        )
        if slowFactor == 0 {
            policy.slowness = nil
        } else {
            policy.slowness = SlownessWatch(
                factor: slowFactor,
                window: try ProxyValueParsing.seconds(slowWindow).duration
            )
        }
        return policy
    }
}
