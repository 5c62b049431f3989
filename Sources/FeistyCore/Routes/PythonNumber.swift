/// Python's `int()` / `float()` on strings, as far as the router needs them.
enum PythonNumber: Equatable {
    case int(Int)
    /// Decimal digits (ASCII, optional leading `-`) of an int that does not fit in `Int`.
    case big(String)

    /// Python 3.11's `sys.get_int_max_str_digits()` default: longer strings make `int()` raise ValueError.
    static let maxStringDigits = 4300

    /// The decimal value (0–9) of a Unicode decimal digit (`str.isdecimal`, what `re`'s `\d` matches).
    @inline(__always)
    static func decimalValue(_ scalar: Unicode.Scalar) -> Int? {
        let value = scalar.value
        if value < 0x80 { return value >= 0x30 && value <= 0x39 ? Int(value - 0x30) : nil }
        guard scalar.properties.numericType == .decimal, let number = scalar.properties.numericValue else {
            return nil
        }
        return Int(number)
    }

    /// `int(text)`: optional surrounding whitespace and sign, digits with single `_` between them.
    /// Returns `nil` where Python raises ValueError (including over `maxStringDigits` digits).
    static func parseInt(_ text: String) -> PythonNumber? {
        let scalars = Array(
            text.unicodeScalars.drop(while: \.properties.isWhitespace).reversed()
                .drop(while: \.properties.isWhitespace).reversed()
        )
        var index = 0
        var negative = false
        if index < scalars.count, scalars[index] == "-" || scalars[index] == "+" {
            negative = scalars[index] == "-"
            index += 1
        }
        var digits: [UInt8] = []
        var lastWasDigit = false
        while index < scalars.count {
            let scalar = scalars[index]
            if let digit = decimalValue(scalar) {
                digits.append(UInt8(digit) + 0x30)
                lastWasDigit = true
            } else if scalar == "_", lastWasDigit, index + 1 < scalars.count, decimalValue(scalars[index + 1]) != nil {
                lastWasDigit = false
            } else {
                return nil
            }
            index += 1
        }
        if digits.isEmpty || digits.count > maxStringDigits { return nil }
        return fromASCIIDigits(digits, negative: negative)
    }

    /// The value of ASCII digits; leading zeros are dropped like Python does.
    static func fromASCIIDigits(_ digits: [UInt8], negative: Bool) -> PythonNumber {
        var start = 0
        while start < digits.count - 1, digits[start] == 0x30 { start += 1 }
        let trimmed = digits[start...]
        if trimmed.count <= 18 {
            var value = 0
            for digit in trimmed { value = value * 10 + Int(digit - 0x30) }
            return .int(negative ? -value : value)
        }
        let text = String(decoding: trimmed, as: UTF8.self)
        if let value = Int(negative ? "-" + text : text) { return .int(value) }
        return .big(negative ? "-" + text : text)
    }

    /// `float(text)` for the shapes a rule argument or a `\d+\.\d+` match can take
    /// (digits, `.`, exponent, `_` between digits, `inf`/`infinity`/`nan`, Unicode digits).
    static func parseFloat(_ text: String) -> Double? {
        var ascii = ""
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            if let digit = decimalValue(scalar) {
                ascii.append(Character(Unicode.Scalar(UInt8(digit) + 0x30)))
            } else if scalar == "_" {
                guard index > 0, index + 1 < scalars.count, decimalValue(scalars[index - 1]) != nil,
                    decimalValue(scalars[index + 1]) != nil
                else { return nil }
            } else if scalar.isASCII {
                ascii.unicodeScalars.append(scalar)
            } else {
                return nil
            }
        }
        let trimmed = ascii.trimmingASCIIWhitespace()
        let lower = trimmed.lowercased()
        let unsigned = lower.hasPrefix("-") || lower.hasPrefix("+") ? String(lower.dropFirst()) : lower
        switch unsigned {
        case "inf", "infinity": return lower.hasPrefix("-") ? -.infinity : .infinity
        case "nan": return .nan
        default: break
        }
        // Python's grammar: digits [. digits] | . digits, then an optional exponent.
        var sawDigit = false
        var index = unsigned.startIndex
        while index < unsigned.endIndex, unsigned[index].isASCIIDigit {
            sawDigit = true; index = unsigned.index(after: index)
        }
        if index < unsigned.endIndex, unsigned[index] == "." {
            index = unsigned.index(after: index)
            while index < unsigned.endIndex, unsigned[index].isASCIIDigit {
                sawDigit = true
                index = unsigned.index(after: index)
            }
        }
        guard sawDigit else { return nil }
        if index < unsigned.endIndex, unsigned[index] == "e" {
            index = unsigned.index(after: index)
            if index < unsigned.endIndex, unsigned[index] == "+" || unsigned[index] == "-" {
                index = unsigned.index(after: index)
            }
            var expDigits = false
            while index < unsigned.endIndex, unsigned[index].isASCIIDigit {
                expDigits = true
                index = unsigned.index(after: index)
            }
            guard expDigits else { return nil }
        }
        guard index == unsigned.endIndex else { return nil }
        return Double(trimmed)
    }

    /// Python's comparison `self < other` between an int and a bound that is an int or a float.
    func isLess(than bound: ConverterArgument) -> Bool? {
        switch (self, bound) {
        case (.int(let value), .int(let limit)): return value < limit
        case (.int(let value), .float(let limit)): return Double(value) < limit
        case (.int(let value), .bool(let limit)): return value < (limit ? 1 : 0)
        case (.big(let digits), .int), (.big(let digits), .bool): return digits.hasPrefix("-")
        case (.big(let digits), .float(let limit)): return (Double(digits) ?? 0) < limit
        default: return nil
        }
    }

    /// Python's comparison `self > other`.
    func isGreater(than bound: ConverterArgument) -> Bool? {
        switch (self, bound) {
        case (.int(let value), .int(let limit)): return value > limit
        case (.int(let value), .float(let limit)): return Double(value) > limit
        case (.int(let value), .bool(let limit)): return value > (limit ? 1 : 0)
        case (.big(let digits), .int), (.big(let digits), .bool): return !digits.hasPrefix("-")
        case (.big(let digits), .float(let limit)): return (Double(digits) ?? 0) > limit
        default: return nil
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
