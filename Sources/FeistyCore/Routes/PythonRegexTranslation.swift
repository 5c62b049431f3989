/// Translates a Python `re` pattern (a Werkzeug part regex containing custom converter regexes) to ICU.
///
/// Differences handled: `(?P<name>` groups become numbered groups (ICU names allow no `_`), `(?P=name)`
/// back-references become `\N`, Python's `\Z` (absolute end) becomes ICU `\z`, and `.` becomes `[^\n]`
/// because ICU's `.` also stops at `\r`, U+0085, U+2028 and U+2029. Everything else used by converter
/// regexes (classes, `\d`/`\w` with Unicode semantics, lazy and greedy quantifiers, look-arounds) means
/// the same in both engines, except that `\d` is ICU's Unicode version: given the app's digits
/// (`PythonDigits`), `\d` becomes a class of exactly those (and `\D` outside a class its complement).
enum PythonRegexTranslation {
    struct Result {
        let pattern: String
        /// ICU group numbers of `__werkzeug_0`, `__werkzeug_1`, ...
        let werkzeugGroups: [Int]
    }

    static func translate(_ python: String, digits: PythonDigits? = nil) -> Result? {
        let scalars = Array(python.unicodeScalars)
        var out = String.UnicodeScalarView()
        var groupNumbers: [String: Int] = [:]
        var groupCount = 0
        var werkzeug: [(Int, Int)] = []
        var index = 0
        var inClass = false
        func append(_ text: String) { out.append(contentsOf: text.unicodeScalars) }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\" {
                guard index + 1 < scalars.count else { return nil }
                let next = scalars[index + 1]
                if !inClass && next == "Z" {
                    append("\\z")
                } else if let digits, next == "d" {
                    append(inClass ? Self.ranges(digits) : "[" + Self.ranges(digits) + "]")
                } else if let digits, next == "D", !inClass {
                    append("[^" + Self.ranges(digits) + "]")
                } else {
                    out.append(scalar)
                    out.append(next)
                }
                index += 2
                continue
            }
            if inClass {
                if scalar == "]" { inClass = false }
                out.append(scalar)
                index += 1
                continue
            }
            switch scalar {
            case "[":
                inClass = true
                out.append(scalar)
                index += 1
                // A `]` or `^]` right after `[` is literal.
                if index < scalars.count, scalars[index] == "^" {
                    out.append("^")
                    index += 1
                }
                if index < scalars.count, scalars[index] == "]" {
                    append("\\]")
                    index += 1
                }
            case ".":
                append("[^\\n]")
                index += 1
            case "(":
                if index + 1 < scalars.count, scalars[index + 1] == "?" {
                    if index + 2 < scalars.count, scalars[index + 2] == "P" {
                        guard index + 3 < scalars.count else { return nil }
                        if scalars[index + 3] == "<" {
                            var cursor = index + 4
                            var name = ""
                            while cursor < scalars.count, scalars[cursor] != ">" {
                                name.unicodeScalars.append(scalars[cursor])
                                cursor += 1
                            }
                            guard cursor < scalars.count else { return nil }
                            groupCount += 1
                            groupNumbers[name] = groupCount
                            if name.hasPrefix("__werkzeug_"), let number = Int(name.dropFirst(11)) {
                                werkzeug.append((number, groupCount))
                            }
                            append("(")
                            index = cursor + 1
                        } else if scalars[index + 3] == "=" {
                            var cursor = index + 4
                            var name = ""
                            while cursor < scalars.count, scalars[cursor] != ")" {
                                name.unicodeScalars.append(scalars[cursor])
                                cursor += 1
                            }
                            guard cursor < scalars.count, let number = groupNumbers[name] else { return nil }
                            append("(?:\\\(number))")
                            index = cursor + 1
                        } else {
                            return nil
                        }
                    } else {
                        append("(?")
                        index += 2
                    }
                } else {
                    groupCount += 1
                    out.append(scalar)
                    index += 1
                }
            default:
                out.append(scalar)
                index += 1
            }
        }
        let groups = werkzeug.sorted { $0.0 < $1.0 }.map(\.1)
        return Result(pattern: String(out), werkzeugGroups: groups)
    }

    /// The digits as ICU class items: `\x{30}-\x{39}\x{660}-\x{669}...`.
    static func ranges(_ digits: PythonDigits) -> String {
        var out = ""
        var index = 0
        while index + 1 < digits.bounds.count {
            out += "\\x{\(String(digits.bounds[index], radix: 16))}-\\x{\(String(digits.bounds[index + 1], radix: 16))}"
            index += 2
        }
        return out
    }
}
