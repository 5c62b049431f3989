import Testing

@testable import FeistyCore

/// A stand-in for `feisty run`'s flags (the executable derives the real set from ArgumentParser).
private let options = ConfigOptionSet([
    ConfigOption(key: "app", kind: .positional),
    ConfigOption(key: "rate", kind: .value),
    ConfigOption(key: "burst", kind: .value),
    ConfigOption(key: "max-strikes", kind: .value),
    ConfigOption(key: "allow", kind: .values),
    ConfigOption(key: "dry-run", kind: .flag),
    ConfigOption(key: "no-guard", kind: .flag),
    ConfigOption(key: "access-log", kind: .invertibleFlag),
    ConfigOption(key: "config", kind: .value, allowedInFile: false),
    ConfigOption(key: "check-config", kind: .flag, allowedInFile: false),
])

private func translate(_ text: String, commandLine: [String] = []) throws(ConfigError) -> ConfigArguments {
    try ConfigArguments(
        entries: try ConfigFile.entries(parsing: text, file: "feisty.toml"),
        options: options,
        commandLine: commandLine,
        file: "feisty.toml"
    )
}

@Suite struct ConfigFileTests {
    /// (file, the arguments it becomes).
    @Test(
        arguments: [
            ("rate = 5", ["--rate=5"]),
            ("rate = 2.5", ["--rate=2.5"]),
            ("max_strikes = 3", ["--max-strikes=3"]),
            ("max-strikes = 3", ["--max-strikes=3"]),
            ("app = \"app.py\"\nrate = 1", ["app.py", "--rate=1"]),
            ("allow = [\"10.0.0.1\", \"10.0.0.0/8\"]", ["--allow=10.0.0.1", "--allow=10.0.0.0/8"]),
            ("allow = \"10.0.0.1\"", ["--allow=10.0.0.1"]),
            ("allow = []", []),
            ("dry-run = true", ["--dry-run"]),
            ("dry-run = false", []),
            ("access-log = false", ["--no-access-log"]),
            ("access-log = true", ["--access-log"]),
            ("no-guard = true", ["--no-guard"]),
            ("[guard]\nrate = 5\n[proxy]\naccess-log = false", ["--rate=5", "--no-access-log"]),
            ("guard.rate = 5", ["--rate=5"]),
            ("burst = 2 # comment\nrate = 1", ["--burst=2", "--rate=1"]),
        ]
    )
    func keysBecomeArguments(text: String, expected: [String]) throws {
        #expect(try translate(text).arguments == expected)
    }

    /// (file, the error's text).
    @Test(
        arguments: [
            ("rate = 5\n\n# x\nrat = 3", "feisty.toml:4: unknown key \"rat\" (did you mean \"rate\"?)"),
            ("max-strike = 3", "feisty.toml:1: unknown key \"max-strike\" (did you mean \"max-strikes\"?)"),
            ("zebra = 1", "feisty.toml:1: unknown key \"zebra\""),
            ("[guard]\nrat = 1", "feisty.toml:2: unknown key \"guard.rat\" (did you mean \"rate\"?)"),
            ("rate = true", "feisty.toml:1: rate: expected a string or a number, got a boolean"),
            ("rate = [1, 2]", "feisty.toml:1: rate: expected a string or a number, got an array"),
            ("allow = [[\"a\"]]", "feisty.toml:1: allow: expected an array of strings or numbers, got an array"),
            ("dry-run = \"yes\"", "feisty.toml:1: dry-run: expected true or false, got a string"),
            ("app = 3", "feisty.toml:1: app: expected a string, got an integer"),
            ("config = \"other.toml\"", "feisty.toml:1: config: --config is given on the command line only"),
            (
                "rate = 1\nmax-strikes = 2\nmax_strikes = 3",
                "feisty.toml:3: max_strikes: given twice (also as \"max-strikes\" on line 2)"
            ),
            ("[a.b]\nrate = 1", "feisty.toml:2: a.b: sections nest one level at most ([section] then key = value)"),
            (
                "rate = 1\nrate = 2",
                "feisty.toml:2: Error while parsing key-value pair: cannot redefine existing integer 'rate'"
            ),
            ("app = \"\"\"\nrat = 1\n\"\"\"\nrat = 2", "feisty.toml:4: unknown key \"rat\" (did you mean \"rate\"?)"),
            ("allow = [\n  \"a\",\n]\nrat = 2", "feisty.toml:4: unknown key \"rat\" (did you mean \"rate\"?)"),
        ]
    )
    func errorsNameFileLineAndKey(text: String, expected: String) {
        #expect(throws: ConfigError.self) { try translate(text) }
        do {
            _ = try translate(text)
        } catch {
            #expect(error.description == expected)
        }
    }

    /// Flags win: a key the command line gives is left out whole, a repeatable option's list included.
    @Test(
        arguments: [
            (["--rate", "9"], ["app.py", "--allow=a", "--dry-run"], ["rate"]),
            (["--rate=9"], ["app.py", "--allow=a", "--dry-run"], ["rate"]),
            (["--allow", "b"], ["app.py", "--rate=5", "--dry-run"], ["allow"]),
            (["--no-access-log"], ["app.py", "--rate=5", "--allow=a", "--dry-run"], ["access-log"]),
            (["other.py"], ["--rate=5", "--allow=a", "--dry-run"], ["app"]),
            (["--config", "feisty.toml"], ["app.py", "--rate=5", "--allow=a", "--dry-run"], []),
            (["--", "-weird.py"], ["--rate=5", "--allow=a", "--dry-run"], ["app"]),
        ]
    )
    func commandLineWins(commandLine: [String], expected: [String], overridden: [String]) throws {
        let text = "app = \"app.py\"\nrate = 5\nallow = [\"a\"]\ndry-run = true\naccess-log = true"
        let file = try translate(text, commandLine: commandLine)
        #expect(file.arguments.filter { $0 != "--access-log" } == expected)
        #expect(file.overridden == overridden)
    }

    @Test func anErrorMessageIsTracedToTheKeyNamingItsFlag() throws {
        let file = try translate("rate = 5\n[guard]\nburst = 0\n")
        #expect(file.origin(namedIn: "--burst must be at least 1")?.line == 3)
        #expect(file.origin(namedIn: "The value 'x' is invalid for '--rate <rate>'")?.key == "rate")
        #expect(file.origin(namedIn: "--rates is not a thing") == nil)
        #expect(file.argumentsByKey == ["rate": ["--rate=5"], "burst": ["--burst=0"]])
    }
}
