// DataError: the one error type thrown by Anneal's data input/output layer.

import Foundation

/// An error found while reading or writing a data file (CSV, safetensors,
/// text, JSONL), located as precisely as the format allows.
///
/// `description` reads like a compiler diagnostic, so it can be printed as is:
///
///     digits.csv:17: expected 65 columns, found 64
///     digits.csv:18: column 3: "abc" is not a number (column "pixel2")
///     model.safetensors: byte offset 8: header is not valid JSON
///     corpus.txt:4: byte offset 131: invalid UTF-8 (unexpected continuation byte 0x80)
///
/// Lines and columns are 1-based (as an editor shows them); byte offsets are
/// 0-based from the start of the file.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the error is in, usually its last path component
    /// (`"digits.csv"`); `"<string>"` for in-memory input.
    public var file: String
    /// 1-based line number (of the record's first line for multi-line CSV records).
    public var line: Int?
    /// 1-based column (field) number within a CSV record.
    public var column: Int?
    /// 0-based byte offset within the file.
    public var offset: Int?
    /// What is wrong, without the location prefix.
    public var message: String

    /// Creates an error; any location part may be omitted.
    public init(file: String, line: Int? = nil, column: Int? = nil, offset: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.offset = offset
        self.message = message
    }

    /// Creates an error about the file at `url`, named by its last path component.
    public init(url: URL, line: Int? = nil, column: Int? = nil, offset: Int? = nil, message: String) {
        self.init(file: url.lastPathComponent, line: line, column: column, offset: offset, message: message)
    }

    /// `file[:line][: column N][: byte offset N]: message`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let column { text += ": column \(column)" }
        if let offset { text += ": byte offset \(offset)" }
        return text + ": " + message
    }
}

// MARK: - Internal helpers shared by the readers

/// Reads a whole file, turning Foundation's error into a `DataError`.
func readFileData(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: [.mappedIfSafe])
    } catch {
        throw DataError(url: url, message: "cannot read file: \(error.localizedDescription)")
    }
}

/// Quotes a string for an error message, shortening long ones.
func quotedForMessage(_ text: some StringProtocol, limit: Int = 40) -> String {
    var shown = String(text.prefix(limit))
    if text.count > limit { shown += "…" }
    let escaped = shown
        .replacingOccurrences(of: "\\", with: "\\\\")
        .replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
        .replacingOccurrences(of: "\r", with: "\\r")
        .replacingOccurrences(of: "\t", with: "\\t")
    return "\"" + escaped + "\""
}

/// UTF-8 validation that reports where the first bad sequence starts.
enum UTF8Check {
    /// The first invalid sequence: its byte offset and a short reason.
    struct Failure: Equatable {
        var offset: Int
        var reason: String
    }

    /// Validates `bytes` as UTF-8 (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF). Returns nil when valid.
    static func firstError(in bytes: UnsafeBufferPointer<UInt8>) -> Failure? {
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            let hex = "0x" + String(b0, radix: 16, uppercase: true)
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF  // allowed range of the 2nd byte
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            case 0x80...0xBF: return Failure(offset: i, reason: "unexpected continuation byte \(hex)")
            default: return Failure(offset: i, reason: "byte \(hex) never appears in UTF-8")
            }
            if i + length > n {
                return Failure(offset: i, reason: "sequence starting with \(hex) is cut off by the end of the file")
            }
            let b1 = bytes[i + 1]
            if b1 < lower || b1 > upper {
                return Failure(offset: i, reason: "bad byte after \(hex) (overlong, surrogate or truncated sequence)")
            }
            if length > 2 {
                for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 {
                    return Failure(offset: i, reason: "truncated sequence starting with \(hex)")
                }
            }
            i += length
        }
        return nil
    }

    /// Decodes `data` as UTF-8 or throws a `DataError` naming the file, the
    /// line and the byte offset of the first invalid sequence. A leading
    /// byte-order mark is dropped.
    static func decode(_ data: Data, file: String) throws -> String {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> String in
            let all = raw.bindMemory(to: UInt8.self)
            let skip = hasBOM(all) ? 3 : 0
            let bytes = UnsafeBufferPointer(rebasing: all[skip...])
            if let failure = firstError(in: bytes) {
                let line = 1 + bytes[..<failure.offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                throw DataError(file: file, line: line, offset: failure.offset + skip,
                                message: "invalid UTF-8 (\(failure.reason))")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Whether the buffer starts with the UTF-8 byte-order mark EF BB BF.
    static func hasBOM(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }
}

// MARK: - A small strict JSON reader (RFC 8259)

/// A parsed JSON value. Numbers keep their literal text so integers stay
/// exact (safetensors offsets are 64-bit); objects reject duplicate keys.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name, for "expected X, found Y" messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The value as an exact integer, if it is a number literal without
    /// fraction or exponent that fits in `Int`.
    var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    /// The value as a Double, if it is a number.
    var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// Where and why parsing failed; `offset` is relative to the parsed bytes.
    struct ParseError: Error {
        var offset: Int
        var message: String
    }

    /// Parses one JSON value filling all of `bytes` (surrounding whitespace allowed).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(ParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.pos < bytes.count {
            throw ParseError(offset: parser.pos, message: "unexpected text after the JSON value")
        }
        return value
    }

    /// Parses `data` as one JSON value.
    static func parse(_ data: Data) throws(ParseError) -> JSONValue {
        let result: Result<JSONValue, ParseError> = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            Result { () throws(ParseError) -> JSONValue in try parse(raw.bindMemory(to: UInt8.self)) }
        }
        return try result.get()
    }
}

/// Recursive-descent parser behind `JSONValue.parse`.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0
    static let maxDepth = 256

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    func fail(_ message: String, at offset: Int? = nil) -> JSONValue.ParseError {
        JSONValue.ParseError(offset: offset ?? pos, message: message)
    }

    func describeByte() -> String {
        guard pos < bytes.count else { return "end of input" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    mutating func parseValue(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth < Self.maxDepth else { throw fail("JSON nested too deeply") }
        guard pos < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected \(describeByte()) where a JSON value should start")
        }
    }

    mutating func expectWord(_ word: StaticString) throws(JSONValue.ParseError) {
        let start = pos
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for b in w {
            guard pos < bytes.count, bytes[pos] == b else { throw fail("invalid literal (expected \(word))", at: start) }
            pos += 1
        }
    }

    mutating func parseObject(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        pos += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw fail("expected a string key in JSON object, found \(describeByte())")
            }
            let keyOffset = pos
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw fail("expected ':' after JSON object key, found \(describeByte())")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            if members.updateValue(value, forKey: key) != nil {
                throw fail("duplicate key \(quotedForMessage(key)) in JSON object", at: keyOffset)
            }
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of JSON inside an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("expected ',' or '}' in JSON object, found \(describeByte())")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        pos += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of JSON inside an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("expected ',' or ']' in JSON array, found \(describeByte())")
        }
    }

    mutating func parseNumber() throws(JSONValue.ParseError) -> JSONValue {
        let start = pos
        func digits(_ p: inout Int) -> Int {
            let s = p
            while p < bytes.count, bytes[p] >= 0x30, bytes[p] <= 0x39 { p += 1 }
            return p - s
        }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let intStart = pos
        let intDigits = digits(&pos)
        guard intDigits > 0 else { throw fail("invalid JSON number", at: start) }
        if intDigits > 1, bytes[intStart] == UInt8(ascii: "0") { throw fail("JSON numbers may not have leading zeros", at: start) }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digits(&pos) > 0 else { throw fail("invalid JSON number (no digits after '.')", at: start) }
        }
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits(&pos) > 0 else { throw fail("invalid JSON number (no digits in exponent)", at: start) }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self))
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func parseString() throws(JSONValue.ParseError) -> String {
        let open = pos
        pos += 1  // opening quote
        var out: [UInt8] = []
        var runStart = pos
        while true {
            guard pos < bytes.count else { throw fail("unterminated JSON string", at: open) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<pos])
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("raw control character 0x\(String(b, radix: 16)) in JSON string (must be escaped)") }
            if b != UInt8(ascii: "\\") { pos += 1; continue }
            out.append(contentsOf: bytes[runStart..<pos])
            pos += 1
            guard pos < bytes.count else { throw fail("unterminated JSON string", at: open) }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw fail("unpaired surrogate in \\u escape")
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
            default:
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))' in JSON string", at: pos - 2)
            }
            runStart = pos
        }
    }
}

/// Encodes a string as a JSON string literal (quotes included).
func jsonStringLiteral(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
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
    return out + "\""
}
