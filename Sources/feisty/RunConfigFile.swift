import ArgumentParser
import FeistyCore
import Foundation
import Logging

/// `feisty run --config FILE`: the file's keys become arguments placed before the command line's, so
/// ArgumentParser parses and validates both (flags win: see `ConfigArguments`).
///
/// The keys are derived from ArgumentParser's own definition of `RunCommand` (its help dump), so every flag has a
/// key, including flags added later, and a value is checked by the flag's own parsing and validation.
enum RunConfigFile {
    /// Flags a file cannot set: the file's own and ArgumentParser's.
    static let commandLineOnly: Set<String> = ["config", "check-config", "help", "version"]

    /// `feisty run`'s flags as keys.
    static let options: ConfigOptionSet = {
        struct Dump: Decodable {
            struct Command: Decodable { var arguments: [Argument]? }
            struct Argument: Decodable {
                struct Name: Decodable {
                    var kind: String
                    var name: String
                }
                var kind: String
                var names: [Name]?
                var isRepeating: Bool
                var valueName: String?
            }
            var command: Command
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(RunCommand._dumpHelp().utf8)) else {
            return ConfigOptionSet([])
        }
        var options: [ConfigOption] = []
        for argument in dump.command.arguments ?? [] {
            let longNames = (argument.names ?? []).filter { $0.kind == "long" }.map(\.name)
            switch argument.kind {
            case "positional":
                if let name = argument.valueName { options.append(ConfigOption(key: name, kind: .positional)) }
            case "option":
                guard let name = longNames.first else { continue }
                options.append(
                    ConfigOption(
                        key: name,
                        kind: argument.isRepeating ? .values : .value,
                        allowedInFile: !commandLineOnly.contains(name)
                    )
                )
            case "flag":
                guard let name = longNames.first else { continue }
                let invertible = longNames.contains("no-\(name)")
                options.append(
                    ConfigOption(
                        key: name,
                        kind: invertible ? .invertibleFlag : .flag,
                        allowedInFile: !commandLineOnly.contains(name)
                    )
                )
            default: continue
            }
        }
        return ConfigOptionSet(options)
    }()

    /// The value of `--config` on `commandLine` (`feisty run`'s arguments), if any.
    static func path(in commandLine: [String]) -> String? {
        var path: String?
        var index = 0
        while index < commandLine.count {
            let argument = commandLine[index]
            if argument == "--" { break }
            if argument == "--config", index + 1 < commandLine.count {
                path = commandLine[index + 1]
                index += 1
            } else if argument.hasPrefix("--config=") {
                path = String(argument.dropFirst("--config=".count))
            }
            index += 1
        }
        return path
    }

    /// The file at `path` with `commandLine`, checked the way `feisty run` would use them.
    /// - Returns: The file's arguments and the command they parse into.
    /// - Throws: `ConfigError` naming the file, line and key; or the parser's own error when the command line
    ///   alone is to blame (the caller lets ArgumentParser report it as usual).
    static func load(path: String, commandLine: [String]) throws -> (ConfigArguments, RunCommand) {
        let file = try ConfigArguments(
            entries: try ConfigFile.entries(atPath: path),
            options: options,
            commandLine: commandLine,
            file: path
        )
        do {
            let command = try RunCommand.parse(file.arguments + commandLine)
            try command.checkValues()
            return (file, command)
        } catch {
            if RunCommand.exitCode(for: error) == .success { throw error }
            throw blame(error, in: file, path: path) ?? error
        }
    }

    /// The key of `file` that `error` is about: the one whose flag its message names, else the first whose
    /// arguments fail alone (a value that parses but is not valid, e.g. `max-body = "lots"`); `nil` when the file
    /// is not to blame on its own (a mix of keys, or the command line).
    static func blame(_ error: any Error, in file: ConfigArguments, path: String) -> ConfigError? {
        let message = RunCommand.message(for: error)
        if let origin = file.origin(namedIn: message) {
            return ConfigError(file: path, line: origin.line, key: origin.key, message: message)
        }
        for origin in file.origins {
            let alone = (origin.optionKey == "app" ? [] : ["app.py"]) + origin.arguments
            do {
                try RunCommand.parse(alone).checkValues()
            } catch {
                return ConfigError(
                    file: path,
                    line: origin.line,
                    key: origin.key,
                    message: RunCommand.message(for: error)
                )
            }
        }
        return nil
    }
}

extension RunConfigFile {
    /// `feisty run`'s own arguments on this process's command line (empty for another command).
    static var runCommandLine: [String] {
        let arguments = CommandLine.arguments.dropFirst()
        return arguments.first == "run" ? Array(arguments.dropFirst()) : []
    }

    /// The arguments to parse for this process: for `feisty run --config FILE`, the file's before the command
    /// line's. A file that is to blame for an error is reported here (file:line: key: message) and exits 1.
    static func processArguments() -> [String] {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.first == "run", let path = path(in: runCommandLine) else { return arguments }
        do {
            let (file, _) = try load(path: path, commandLine: runCommandLine)
            return ["run"] + file.arguments + runCommandLine
        } catch let error as ConfigError {
            FileHandleOutput.error("feisty: \(error)")
            exit(1)
        } catch {
            // Not the file's fault alone: ArgumentParser reports it as usual, from the same arguments.
            let file = try? ConfigArguments(
                entries: ConfigFile.entries(atPath: path),
                options: options,
                commandLine: runCommandLine,
                file: path
            )
            return ["run"] + (file?.arguments ?? []) + runCommandLine
        }
    }
}

extension RunConfigFile {
    /// What SIGHUP does with the file at `path`: read it again with this process's command line and hand the
    /// guard's new settings over (see `ConfigReloader`).
    static func reloader(path: String, clientGuard: ClientGuard?, logger: Logger) throws -> ConfigReloader {
        let commandLine = runCommandLine
        let (file, _) = try load(path: path, commandLine: commandLine)
        return ConfigReloader(file: path, running: file.argumentsByKey, clientGuard: clientGuard, logger: logger) {
            do {
                let (file, command) = try load(path: path, commandLine: commandLine)
                return ConfigReloader.Loaded(
                    argumentsByKey: file.argumentsByKey,
                    guardConfiguration: try command.guardRun.configuration(policy: command.guardPolicy)
                )
            } catch let error as ConfigError {
                throw error
            } catch {
                throw ConfigError(file: path, line: nil, message: RunCommand.message(for: error))
            }
        }
    }
}

extension RunConfigFile {
    /// The last value of `--NAME` in `arguments` (`--NAME VALUE` or `--NAME=VALUE`), before any `--`.
    static func lastValue(of name: String, in arguments: [String]) -> String? {
        var value: String?
        var index = 0
        while index < arguments.count, arguments[index] != "--" {
            if arguments[index] == "--\(name)", index + 1 < arguments.count {
                value = arguments[index + 1]
                index += 1
            } else if arguments[index].hasPrefix("--\(name)=") {
                value = String(arguments[index].dropFirst(name.count + 3))
            }
            index += 1
        }
        return value
    }
}
