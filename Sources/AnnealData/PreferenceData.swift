// Preference data in the JSONL formats of Hugging Face TRL: paired
// (prompt, chosen, rejected) for DPO-style training and unpaired
// (prompt, completion, label) for KTO.

import Foundation

/// One preference pair: for `prompt`, `chosen` is preferred over `rejected`.
/// `chosen` and `rejected` are completions only (the prompt is not repeated).
public struct PreferencePair: Sendable, Equatable {
    /// The shared prompt (may be empty).
    public var prompt: String
    /// The preferred completion (non-empty).
    public var chosen: String
    /// The dispreferred completion (non-empty).
    public var rejected: String
    /// Optional preference strength (the `"margin"` field), e.g. for reward-model losses.
    public var margin: Double?
    /// Whether `prompt` was derived from `chosen`/`rejected` (no `"prompt"` field).
    public var promptIsImplicit: Bool
    /// The 1-based line in the JSONL file.
    public var line: Int

    /// Creates a pair.
    public init(prompt: String, chosen: String, rejected: String, margin: Double? = nil, promptIsImplicit: Bool = false, line: Int = 0) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.margin = margin
        self.promptIsImplicit = promptIsImplicit
        self.line = line
    }
}

/// One unpaired (KTO) example: a completion judged desirable or not.
public struct UnpairedPreference: Sendable, Equatable {
    /// The prompt (may be empty).
    public var prompt: String
    /// The completion (non-empty).
    public var completion: String
    /// true if the completion is desirable.
    public var label: Bool
    /// The 1-based line in the JSONL file.
    public var line: Int

    /// Creates an example.
    public init(prompt: String, completion: String, label: Bool, line: Int = 0) {
        self.prompt = prompt
        self.completion = completion
        self.label = label
        self.line = line
    }
}

/// Readers for TRL's standard (plain-text, not conversational) JSONL
/// preference formats. One JSON object per line; blank lines are skipped;
/// `\r\n` is accepted; fields other than those listed are ignored.
///
/// Paired, explicit prompt:  `{"prompt": "…", "chosen": "…", "rejected": "…"}`
/// Paired, implicit prompt:  `{"chosen": "…", "rejected": "…"}`
/// (either may add `"margin": <number>`; `null` means absent)
/// Unpaired (KTO):           `{"prompt": "…", "completion": "…", "label": true}`
///
/// Errors (`DataError`) name `file:line` and the field: invalid UTF-8 or JSON,
/// a line that is not an object, a missing field, a wrong type (a message
/// list, TRL's conversational format, is reported as not supported), an
/// empty completion, or a non-finite margin.
public enum PreferenceData {
    /// Loads paired preferences (explicit or implicit prompt, mixed freely).
    public static func loadPairs(_ url: URL) throws -> [PreferencePair] {
        let file = url.lastPathComponent
        return try JSONLines.objects(readFileData(url), file: file).map { line, object in
            let fields = FieldReader(file: file, line: line, object: object)
            let margin = try fields.optionalNumber("margin")
            let chosen = try fields.string("chosen"), rejected = try fields.string("rejected")
            if let prompt = try fields.optionalString("prompt") {
                try fields.requireNonEmpty("chosen", chosen)
                try fields.requireNonEmpty("rejected", rejected)
                return PreferencePair(prompt: prompt, chosen: chosen, rejected: rejected, margin: margin, promptIsImplicit: false, line: line)
            }
            guard chosen != rejected else {
                throw DataError(file: file, line: line, message: "fields \"chosen\" and \"rejected\" are identical")
            }
            let split = implicitPrompt(chosen: chosen, rejected: rejected)
            try fields.requireNonEmpty("chosen", split.chosen, detail: " after removing the implicit prompt (it is a prefix of \"rejected\")")
            try fields.requireNonEmpty("rejected", split.rejected, detail: " after removing the implicit prompt (it is a prefix of \"chosen\")")
            return PreferencePair(prompt: split.prompt, chosen: split.chosen, rejected: split.rejected, margin: margin, promptIsImplicit: true, line: line)
        }
    }

    /// Loads unpaired (KTO) examples; `label` must be a JSON boolean.
    public static func loadUnpaired(_ url: URL) throws -> [UnpairedPreference] {
        let file = url.lastPathComponent
        return try JSONLines.objects(readFileData(url), file: file).map { line, object in
            let fields = FieldReader(file: file, line: line, object: object)
            let prompt = try fields.string("prompt"), completion = try fields.string("completion")
            let label = try fields.bool("label")
            try fields.requireNonEmpty("completion", completion)
            return UnpairedPreference(prompt: prompt, completion: completion, label: label, line: line)
        }
    }

    /// Splits two full texts into their shared prompt and the two completions.
    ///
    /// The prompt is the longest common prefix compared Unicode scalar by
    /// scalar (not by grapheme cluster, so a combining mark that differs
    /// splits the cluster); as in TRL, if that prefix ends with a space the
    /// space is moved to the completions, so `"Q: hi A: yes"` / `"Q: hi A: no"`
    /// give prompt `"Q: hi A:"` and completions `" yes"` / `" no"`. The prefix
    /// is purely textual and can end inside a word (`"… A: yes"` / `"… A: yeah"`
    /// share `"… A: ye"`); give an explicit `"prompt"` when that matters.
    public static func implicitPrompt(chosen: String, rejected: String) -> (prompt: String, chosen: String, rejected: String) {
        let a = Array(chosen.unicodeScalars), b = Array(rejected.unicodeScalars)
        var n = 0
        while n < a.count, n < b.count, a[n] == b[n] { n += 1 }
        if n > 0, a[n - 1] == " " { n -= 1 }
        func text(_ s: ArraySlice<Unicode.Scalar>) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s)
            return String(view)
        }
        return (text(a[..<n]), text(a[n...]), text(b[n...]))
    }
}

// MARK: - JSONL plumbing

/// Splits JSONL bytes into (line number, top-level object) pairs.
enum JSONLines {
    static func objects(_ data: Data, file: String) throws -> [(Int, [String: JSONValue])] {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let all = raw.bindMemory(to: UInt8.self)
            if let bad = UTF8Check.firstError(in: all) {
                let line = 1 + all[..<bad.offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                throw DataError(file: file, line: line, offset: bad.offset, message: "invalid UTF-8 (\(bad.reason))")
            }
            var result: [(Int, [String: JSONValue])] = []
            var start = UTF8Check.hasBOM(all) ? 3 : 0
            var line = 1
            while start < all.count {
                var end = start
                while end < all.count, all[end] != 0x0A { end += 1 }
                let content = UnsafeBufferPointer(rebasing: all[start..<end])
                if !content.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    let value: JSONValue
                    do throws(JSONValue.ParseError) { value = try JSONValue.parse(content) } catch {
                        throw DataError(file: file, line: line, offset: start + error.offset, message: "invalid JSON: \(error.message)")
                    }
                    guard case .object(let object) = value else {
                        throw DataError(file: file, line: line, message: "expected a JSON object, found \(value.typeName)")
                    }
                    result.append((line, object))
                }
                start = end + 1
                line += 1
            }
            return result
        }
    }
}

/// Typed access to one JSONL object's fields with located errors.
struct FieldReader {
    let file: String
    let line: Int
    let object: [String: JSONValue]

    func error(_ field: String, _ message: String) -> DataError {
        DataError(file: file, line: line, message: "field \(quotedForMessage(field)): \(message)")
    }

    func typeError(_ field: String, expected: String, found value: JSONValue) -> DataError {
        let hint = if case .array = value, expected == "a string" {
            " (conversational message lists are not supported; use plain text)"
        } else { "" }
        return error(field, "expected \(expected), found \(value.typeName)\(hint)")
    }

    func string(_ field: String) throws -> String {
        guard let value = object[field] else { throw error(field, "missing") }
        guard case .string(let s) = value else { throw typeError(field, expected: "a string", found: value) }
        return s
    }

    func optionalString(_ field: String) throws -> String? {
        guard let value = object[field], value != .null else { return nil }
        guard case .string(let s) = value else { throw typeError(field, expected: "a string", found: value) }
        return s
    }

    func bool(_ field: String) throws -> Bool {
        guard let value = object[field] else { throw error(field, "missing") }
        guard case .bool(let b) = value else { throw typeError(field, expected: "a boolean (true/false)", found: value) }
        return b
    }

    func optionalNumber(_ field: String) throws -> Double? {
        guard let value = object[field], value != .null else { return nil }
        guard let d = value.doubleValue else { throw typeError(field, expected: "a number", found: value) }
        guard d.isFinite else { throw error(field, "number out of range") }
        return d
    }

    func requireNonEmpty(_ field: String, _ text: String, detail: String = "") throws {
        if text.isEmpty { throw error(field, "empty completion\(detail)") }
    }
}
