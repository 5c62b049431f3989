import ArgumentParser
import FeistyCore

extension RunCommand {
    /// Builds every setting the flags describe without starting anything: what `--check-config` checks beyond
    /// ArgumentParser's parsing and `validate()`.
    func checkValues() throws {
        _ = try proxy.configuration(listen: listen)
        _ = try resilience.policy()
        _ = try guardRun.configuration(policy: guardPolicy)
        _ = try ProxyValueParsing.seconds(startupTimeout)
        if let upstream { _ = try ProxyServer.resolve(upstream) }
        // A --user or --group the system does not know (whether feisty may use them is decided at start).
        if let user = privileges.user { _ = try UserAccount.lookUp(user, group: privileges.group) }
    }

    /// `--check-config`: exit status 0 and one line when the settings are valid, else the error and status 1.
    func checkConfiguration() throws {
        do {
            if let config {
                // Checked again from the file: the error then names the key and line it comes from.
                _ = try RunConfigFile.load(path: config, commandLine: RunConfigFile.runCommandLine)
            }
            try checkValues()
        } catch let error as ConfigError {
            FileHandleOutput.error("feisty: \(error)")
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandleOutput.error("feisty: \(RunCommand.message(for: error))")
            throw ExitCode.failure
        }
        FileHandleOutput.out("feisty: \(config.map { "\($0) and the flags" } ?? "the flags"): valid")
    }
}
