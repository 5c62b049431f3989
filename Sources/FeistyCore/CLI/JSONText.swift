/// Compact JSON text with the key order the caller chooses and integers of any size.
///
/// Foundation's encoder cannot write an integer wider than 64 bits as a plain JSON number, and `feisty match`
/// must print Python's arbitrary-size ints exactly; the verdict objects also have a documented key order.
public enum JSONText {
    /// The JSON text of a value; object keys are sorted for a stable output.
    public static func encode(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// An object with its keys in the given order.
    public static func object(_ members: [(String, JSONValue)]) -> String {
        var out = "{"
        for (index, (key, value)) in members.enumerated() {
            if index > 0 { out += ", " }
            writeString(key, into: &out)
            out += ": "
            write(value, into: &out)
        }
        return out + "}"
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .bigInteger(let digits): out += digits
        case .double(let number): out += doubleText(number)
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += object(members.sorted { $0.key < $1.key })
        }
    }

    /// Python's `json.dumps` spelling of a float (`1.5`, `1e+16`, `Infinity`).
    static func doubleText(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        return "\(number)"
    }

    static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
