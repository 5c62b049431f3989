/// The `feisty run` flags a unit passes through: what the user gave `feisty systemd`, without what the unit states
/// itself (the app, made absolute and put last; `--python` and `--state-dir`, made absolute; `--user` and `--group`,
/// which become `User=` and `Group=`).
public enum SystemdRunArguments {
    /// Options whose value the unit sets itself, so they are dropped with their value.
    static let replacedOptions: Set<String> = ["--python", "--state-dir", "--user", "--group"]

    /// `arguments` (as given after `feisty systemd`) without the app and the options the unit sets itself.
    /// - Parameters:
    ///   - arguments: The app and the `feisty run` flags.
    ///   - app: The app as parsed (its first occurrence outside an option's value is dropped).
    public static func passedThrough(_ arguments: [String], app: String) -> [String] {
        var kept: [String] = []
        var droppedApp = false
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            index += 1
            if word == "--" { continue }
            let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
            if replacedOptions.contains(name) {
                // `--user=www` carries its value; `--user www` takes the next word.
                if !word.contains("=") { index += 1 }
                continue
            }
            if !droppedApp, word == app {
                droppedApp = true
                continue
            }
            kept.append(word)
        }
        return kept
    }
}
