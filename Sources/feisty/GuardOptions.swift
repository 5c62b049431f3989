import ArgumentParser
import FeistyCore

/// The strike and ban flags: shared by `feisty replay` (and, later, `feisty run`).
struct GuardOptions: ParsableArguments {
    @Option(help: "Strikes within --find-time that earn a ban; a canary path weighs this many at once.")
    var maxStrikes = 5

    @Option(help: "The window strikes are counted in: seconds or 30s, 10m, 2h, 1d, 1w.")
    var findTime = "10m"

    @Option(help: "How long a first ban lasts (doubling with each repeat ban), or `forever`.")
    var banTime = "10m"

    @Option(help: "The longest a doubled ban gets.")
    var banTimeMax = "1w"

    @Option(
        name: .customLong("strike-405"),
        help: "1: a request with a method the route refuses (405) is a strike; 0: it is not."
    )
    var strike405 = 1

    @Option(help: "A file of extra canary paths: one pattern per line (`/exact`, `/folder/`, `/prefix*`), # comments.")
    var canaryFile: String?

    @Option(help: "IPv6 clients are keyed (struck and banned) by their network of this prefix length.")
    var ipv6Prefix = ClientKey.defaultIPv6Prefix

    func validate() throws {
        guard maxStrikes >= 1 else { throw ValidationError("--max-strikes must be at least 1") }
        guard strike405 == 0 || strike405 == 1 else { throw ValidationError("--strike-405 takes 0 or 1") }
        guard (1...128).contains(ipv6Prefix) else {
            throw ValidationError("\(GuardError.invalidIPv6Prefix(ipv6Prefix))")
        }
        _ = try policy()
    }

    /// The ban policy the flags spell.
    func policy(dryRun: Bool = false) throws -> BanPolicy {
        func duration(_ text: String, _ flag: String) throws -> Duration {
            do {
                return try ProxyValueParsing.duration(text)
            } catch {
                throw ValidationError("--\(flag): \(error)")
            }
        }
        let first: BanPolicy.BanTime =
            banTime.lowercased() == "forever" ? .forever : .duration(try duration(banTime, "ban-time"))
        return BanPolicy(
            maxStrikes: maxStrikes,
            findTime: try duration(findTime, "find-time"),
            banTime: first,
            banTimeMax: try duration(banTimeMax, "ban-time-max"),
            dryRun: dryRun
        )
    }

    /// An empty strike book with these flags; a bad canary file is a one-line error and exit status 1.
    func strikeBook(dryRun: Bool = false) throws -> StrikeBook {
        let canaries: CanaryPaths
        do {
            canaries = try canaryFile.map(CanaryPaths.load(file:)) ?? .builtIn
        } catch {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        }
        return StrikeBook(policy: try policy(dryRun: dryRun), canaries: canaries, strike405: strike405 == 1)
    }
}
