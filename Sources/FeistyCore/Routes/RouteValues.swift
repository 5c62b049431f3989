/// The converters' `to_python` over a matched rule's value ranges: validation (which turns the whole
/// match into `NoMatch` when it fails) and the converted arguments.
enum RouteValues {
    /// The bytes of capture `index` (a range in the path, or in the domain when tagged).
    @inline(__always)
    static func slice(
        _ captures: UnsafeMutablePointer<Int>,
        _ index: Int,
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>
    ) -> UnsafeBufferPointer<UInt8> {
        var start = captures[2 * index]
        var end = captures[2 * index + 1]
        if start >= RouteStateMachine.domainTag {
            start -= RouteStateMachine.domainTag
            end -= RouteStateMachine.domainTag
            return UnsafeBufferPointer(rebasing: domain[start..<end])
        }
        return UnsafeBufferPointer(rebasing: path[start..<end])
    }

    /// Whether every `to_python` succeeds (a converter raising something other than `ValidationError`,
    /// such as `int()` over 4300 digits, still counts as matched: the app answers, with a 500).
    static func validate(
        _ rule: CompiledRule,
        captures: UnsafeMutablePointer<Int>,
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let count = min(rule.variableNames.count, rule.captureCount)
        var index = 0
        while index < count {
            switch rule.behaviours[index] {
            case .int(let fixedDigits, let minimum, let maximum, _):
                let bytes = slice(captures, index, domain: domain, path: path)
                if fixedDigits != 0, scalarCount(bytes) != fixedDigits { return false }
                if minimum != nil || maximum != nil || bytes.count > 18 {
                    // `int()` raising (over 4300 digits) ends validation: Flask answers 500 from the app.
                    guard let number = integer(bytes) else { return true }
                    if let minimum, number.isLess(than: minimum) == true { return false }
                    if let maximum, number.isGreater(than: maximum) == true { return false }
                }
            case .float(let minimum, let maximum, _):
                if minimum != nil || maximum != nil {
                    let value = float(slice(captures, index, domain: domain, path: path))
                    if let minimum, let bound = bound(minimum), value < bound { return false }
                    if let maximum, let bound = bound(maximum), value > bound { return false }
                }
            default:
                break
            }
            index += 1
        }
        return true
    }

    /// The converted values in `_converters` order, then the defaults (sorted by key; a default for a
    /// variable replaces its value in place, as `dict.update` does).
    static func arguments(
        _ rule: CompiledRule,
        captures: UnsafeMutablePointer<Int>,
        domain: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>
    ) -> [(name: String, value: JSONValue)] {
        var result: [(name: String, value: JSONValue)] = []
        result.reserveCapacity(rule.variableNames.count + (rule.source.defaults?.count ?? 0))
        let count = min(rule.variableNames.count, rule.captureCount)
        for index in 0..<count {
            let name = rule.variableNames[index]
            let bytes = slice(captures, index, domain: domain, path: path)
            let value: JSONValue
            switch rule.behaviours[index] {
            case .int:
                switch integer(bytes) {
                case .int(let number)?: value = .int(number)
                case .big(let digits)?: value = .bigInteger(digits)
                case nil: value = .bigInteger(asciiDigits(bytes))
                }
            case .float:
                value = .double(float(bytes))
            case .uuid:
                value = .string(String(decoding: bytes, as: UTF8.self).lowercased())
            default:
                value = .string(String(decoding: bytes, as: UTF8.self))
            }
            result.append((name, value))
        }
        if let defaults = rule.source.defaults {
            for key in defaults.keys.sorted() {
                if let existing = result.firstIndex(where: { $0.name == key }) {
                    result[existing].value = defaults[key]!
                } else {
                    result.append((key, defaults[key]!))
                }
            }
        }
        return result
    }

    static func scalarCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for byte in bytes where byte & 0xC0 != 0x80 { count += 1 }
        return count
    }

    /// `int(value)` of a `-?\d+` match; `nil` when Python raises (over 4300 digits).
    static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> PythonNumber? {
        var negative = false
        var start = 0
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            start = 1
        }
        var allASCII = true
        for index in start..<bytes.count where bytes[index] >= 0x80 {
            allASCII = false
            break
        }
        if allASCII, bytes.count - start <= 18 {
            var value = 0
            for index in start..<bytes.count { value = value * 10 + Int(bytes[index] - 0x30) }
            return .int(negative ? -value : value)
        }
        let digits = Array(asciiDigits(UnsafeBufferPointer(rebasing: bytes[start...])).utf8)
        if digits.count > PythonNumber.maxStringDigits { return nil }
        return PythonNumber.fromASCIIDigits(digits, negative: negative)
    }

    /// The digits of a `\d` run mapped to ASCII (keeping a leading `-`).
    static func asciiDigits(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            if let digit = PythonNumber.decimalValue(scalar) {
                out.unicodeScalars.append(Unicode.Scalar(UInt8(digit) + 0x30))
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `float(value)` of a `-?\d+\.\d+` match.
    static func float(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        Double(asciiDigits(bytes)) ?? .nan
    }

    private static func bound(_ argument: ConverterArgument) -> Double? {
        switch argument {
        case .int(let number): Double(number)
        case .float(let number): number
        case .bool(let flag): flag ? 1 : 0
        default: nil
        }
    }
}
