// Numeric CSV datasets (validated on load), an RFC 4180 record parser for
// text corpora, and the seeded shuffling / splitting / batching /
// standardisation utilities that go with them.

import Foundation

// MARK: - Options

/// Which column of a numeric CSV holds the label.
public enum LabelColumn: Sendable, Equatable {
    /// The column whose header is `label` (exact match first, then
    /// case-insensitive); without such a column, the last column.
    case automatic
    /// The column with exactly this header name (the file must have a header).
    case name(String)
    /// The column at this 0-based index.
    case index(Int)
}

/// Whether the first line of a numeric CSV is a header.
public enum CSVHeaderMode: Sendable, Equatable {
    /// The first line is a header when any of its fields is non-empty and not
    /// a number (so a header whose names are all numbers, like `0,1,2`, is
    /// read as data: say `.present` for such files).
    case automatic
    /// The first line is always a header.
    case present
    /// There is no header: the first line is data.
    case absent
}

/// How the label column is interpreted.
public enum CSVLabelKind: Sendable, Equatable {
    /// Class labels: every label must be a non-negative integer (`3` or
    /// `3.0`, at most `Int32.max`); `labels` holds them.
    case classification
    /// Real-valued targets: any finite number; `labels` is empty and
    /// `labelValues` holds the targets.
    case regression
}

// MARK: - CSVDataset

/// A numeric table loaded from CSV: a feature matrix and one label column.
///
/// Layout: `features` is row-major with shape `[rowCount, featureCount]`, so
/// row `r` is `features[r * featureCount ..< (r + 1) * featureCount]`.
/// `labelValues[r]` is row `r`'s label as written (as Float, for regression);
/// `labels[r]` is the same value as an integer class (empty for regression).
///
/// Validation on load (every failure is a `DataError` naming `file:line`):
/// every record has the same number of columns as the first one; every field
/// is a finite decimal number (`-1`, `2.5`, `.5`, `1e-3`; spaces around it
/// allowed; no `nan`, `inf`, hex or empty fields); class labels are
/// non-negative integers. Accepted line endings: `\n`, `\r\n`, `\r`; a UTF-8
/// byte-order mark and blank lines at the end are ignored, a blank line
/// between records is an error. Fields may be quoted as in RFC 4180.
public struct CSVDataset: Sendable, Equatable {
    /// Names of the feature columns, in file order without the label
    /// column. Without a header: `column1`, `column2`, … (1-based file column numbers).
    public var featureNames: [String]
    /// Name of the label column (`columnN` when the file has no header).
    public var labelName: String
    /// Row-major features, shape `[rowCount, featureCount]`.
    public var features: [Float]
    /// Integer class labels, one per row (empty for `.regression`).
    public var labels: [Int]
    /// Label values as written, one per row (for regression targets).
    public var labelValues: [Float]
    /// Number of feature columns.
    public var featureCount: Int { featureNames.count }
    /// Number of rows (examples).
    public var rowCount: Int { labelValues.count }
    /// Number of classes, `max(labels) + 1` (0 without class labels).
    public var classCount: Int { (labels.max() ?? -1) + 1 }

    /// Creates a dataset from arrays already in the documented layout.
    /// - Precondition: `features.count == labelValues.count * featureNames.count`,
    ///   and `labels` is empty or has one entry per row.
    public init(featureNames: [String], labelName: String, features: [Float], labels: [Int], labelValues: [Float]) {
        precondition(features.count == labelValues.count * featureNames.count, "features must be rows × featureCount")
        precondition(labels.isEmpty || labels.count == labelValues.count, "one label per row")
        self.featureNames = featureNames
        self.labelName = labelName
        self.features = features
        self.labels = labels
        self.labelValues = labelValues
    }

    /// Loads and validates a numeric CSV file.
    ///
    /// - Parameters:
    ///   - url: the file.
    ///   - label: which column is the label (default: `label`, else the last).
    ///   - header: whether the first line is a header (default: detected).
    ///   - labelKind: classification (integer labels ≥ 0) or regression.
    /// - Throws: `DataError` naming `file:line` and column for the first
    ///   problem; also for an empty file or a header without data rows.
    public static func load(
        _ url: URL, label: LabelColumn = .automatic, header: CSVHeaderMode = .automatic,
        labelKind: CSVLabelKind = .classification
    ) throws -> CSVDataset {
        let data = try readFileData(url)
        return try parse(data, file: url.lastPathComponent, label: label, header: header, labelKind: labelKind)
    }

    /// Parses CSV bytes already in memory; `file` names them in errors.
    public static func parse(
        _ data: Data, file: String = "<string>", label: LabelColumn = .automatic,
        header: CSVHeaderMode = .automatic, labelKind: CSVLabelKind = .classification
    ) throws -> CSVDataset {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            try NumericCSVReader(bytes: raw.bindMemory(to: UInt8.self), file: file)
                .read(label: label, header: header, labelKind: labelKind)
        }
    }

    /// Row `r`'s features (a view into `features`).
    public func row(_ r: Int) -> ArraySlice<Float> {
        features[r * featureCount ..< (r + 1) * featureCount]
    }

    /// The rows at `indices`, in that order (repeats allowed).
    public func subset(_ indices: [Int]) -> CSVDataset {
        let f = featureCount
        var feats = [Float]()
        feats.reserveCapacity(indices.count * f)
        for i in indices { feats.append(contentsOf: features[i * f ..< (i + 1) * f]) }
        return CSVDataset(
            featureNames: featureNames, labelName: labelName, features: feats,
            labels: labels.isEmpty ? [] : indices.map { labels[$0] },
            labelValues: indices.map { labelValues[$0] })
    }

    /// Gathers one batch: features of shape `[indices.count, featureCount]`
    /// (row-major) and the matching class labels and label values.
    public func batch(_ indices: [Int]) -> (features: [Float], labels: [Int], labelValues: [Float]) {
        let s = subset(indices)
        return (s.features, s.labels, s.labelValues)
    }

    /// Splits the rows with `DataSplit.trainValidation(count:validationFraction:seed:)`.
    public func split(validationFraction: Double, seed: UInt64) -> (train: CSVDataset, validation: CSVDataset) {
        let s = DataSplit.trainValidation(count: rowCount, validationFraction: validationFraction, seed: seed)
        return (subset(s.train), subset(s.validation))
    }
}

// MARK: - RFC 4180 records

/// One CSV record: its fields and the 1-based line it starts on.
public struct CSVRecord: Sendable, Equatable {
    /// The 1-based line where the record starts (a quoted field may span lines).
    public var line: Int
    /// The unquoted field values.
    public var fields: [String]

    /// Creates a record.
    public init(line: Int, fields: [String]) {
        self.line = line
        self.fields = fields
    }
}

/// An RFC 4180 CSV parser for text corpora.
///
/// Accepted: comma-separated fields; fields in double quotes may contain
/// commas, line breaks and doubled quotes (`""` → `"`); records end with
/// `\r\n`, `\n` or `\r`; the last record may lack a line break. A UTF-8
/// byte-order mark is dropped. Lenient where RFC 4180 is silent: a quote
/// inside an unquoted field is kept literally, and blank lines (outside
/// quotes) are skipped. Errors: invalid UTF-8, a quoted field never closed,
/// or text between a closing quote and the next comma/line break.
public enum CSVParser {
    /// Parses CSV text into records. `file` names the input in errors.
    public static func parse(_ text: String, file: String = "<string>") throws -> [CSVRecord] {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, file: file) }
    }

    /// Reads and parses a UTF-8 CSV file.
    public static func parse(contentsOf url: URL) throws -> [CSVRecord] {
        let data = try readFileData(url)
        let file = url.lastPathComponent
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            if let failure = UTF8Check.firstError(in: bytes) {
                let line = 1 + bytes[..<failure.offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                throw DataError(file: file, line: line, offset: failure.offset, message: "invalid UTF-8 (\(failure.reason))")
            }
            return try parse(bytes: bytes, file: file)
        }
    }

    /// Reads a CSV file whose first record is a header, checking that every
    /// record has as many fields as the header.
    /// - Returns: the header fields and the data records.
    public static func table(contentsOf url: URL) throws -> (header: [String], records: [CSVRecord]) {
        let records = try parse(contentsOf: url)
        let file = url.lastPathComponent
        guard let first = records.first else { throw DataError(file: file, message: "file is empty (no header)") }
        for r in records.dropFirst() where r.fields.count != first.fields.count {
            throw DataError(file: file, line: r.line,
                            message: "expected \(first.fields.count) columns, found \(r.fields.count)")
        }
        return (first.fields, Array(records.dropFirst()))
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> [CSVRecord] {
        var scanner = CSVScanner(bytes: bytes, file: file)
        var refs: [CSVScanner.Field] = []
        var records: [CSVRecord] = []
        while let line = try scanner.nextRecord(into: &refs) {
            if CSVScanner.isBlank(refs, bytes) { continue }
            records.append(CSVRecord(line: line, fields: refs.map { scanner.string($0) }))
        }
        return records
    }
}

/// Byte-level CSV tokenizer shared by `CSVParser` and the numeric reader.
/// Fields are returned as ranges into the input (without the quotes).
struct CSVScanner {
    struct Field {
        var start: Int
        var end: Int
        var quoted: Bool
        /// The quoted field contains doubled quotes that still need undoubling.
        var hasEscapes: Bool
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let file: String
    var pos: Int
    /// 1-based physical line of `pos`.
    var line = 1

    init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
        self.pos = UTF8Check.hasBOM(bytes) ? 3 : 0
    }

    static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(0x0A), cr = UInt8(0x0D)

    /// Reads the next record's fields into `fields`; returns the 1-based line
    /// the record starts on, or nil at the end of the input.
    mutating func nextRecord(into fields: inout [Field]) throws -> Int? {
        let n = bytes.count
        guard pos < n else { return nil }
        let startLine = line
        fields.removeAll(keepingCapacity: true)
        while true {
            if pos < n, bytes[pos] == Self.quote {
                let fieldLine = line
                pos += 1
                let start = pos
                var escapes = false
                while true {
                    guard pos < n else {
                        throw DataError(file: file, line: fieldLine, column: fields.count + 1,
                                        message: "quoted field is never closed")
                    }
                    let c = bytes[pos]
                    if c == Self.quote {
                        if pos + 1 < n, bytes[pos + 1] == Self.quote { escapes = true; pos += 2; continue }
                        break
                    }
                    if c == Self.lf || (c == Self.cr && !(pos + 1 < n && bytes[pos + 1] == Self.lf)) { line += 1 }
                    pos += 1
                }
                fields.append(Field(start: start, end: pos, quoted: true, hasEscapes: escapes))
                pos += 1  // closing quote
                if pos < n, bytes[pos] != Self.comma, bytes[pos] != Self.lf, bytes[pos] != Self.cr {
                    throw DataError(file: file, line: line, column: fields.count,
                                    message: "unexpected text after a closing quote (a quote inside a quoted field must be doubled)")
                }
            } else {
                let start = pos
                while pos < n {
                    let c = bytes[pos]
                    if c == Self.comma || c == Self.lf || c == Self.cr { break }
                    pos += 1
                }
                fields.append(Field(start: start, end: pos, quoted: false, hasEscapes: false))
            }
            guard pos < n else { return startLine }
            let c = bytes[pos]
            pos += 1
            if c == Self.comma { continue }
            if c == Self.cr, pos < n, bytes[pos] == Self.lf { pos += 1 }
            line += 1
            return startLine
        }
    }

    /// Whether a record is a blank line (one unquoted field of spaces/tabs only).
    static func isBlank(_ fields: [Field], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard fields.count == 1, !fields[0].quoted else { return false }
        return bytes[fields[0].start..<fields[0].end].allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    /// The field's text, with doubled quotes undoubled.
    func string(_ f: Field) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[f.start..<f.end])
        guard f.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            out.append(raw[i])
            i += raw[i] == Self.quote ? 2 : 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Numeric reader

/// Parses decimal numbers straight from bytes (no String per field).
enum DecimalNumber {
    /// The range `start..<end` without leading and trailing spaces/tabs.
    static func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start, e = end
        while s < e, b[s] == 0x20 || b[s] == 0x09 { s += 1 }
        while e > s, b[e - 1] == 0x20 || b[e - 1] == 0x09 { e -= 1 }
        return (s, e)
    }

    /// Whether `b[start..<end]` is a decimal number:
    /// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`.
    static func isValid(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        var mantissaDigits = 0
        while i < end, b[i] &- 0x30 < 10 { i += 1; mantissaDigits += 1 }
        if i < end, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, b[i] &- 0x30 < 10 { i += 1; mantissaDigits += 1 }
        }
        guard mantissaDigits > 0 else { return false }
        if i < end, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            var expDigits = 0
            while i < end, b[i] &- 0x30 < 10 { i += 1; expDigits += 1 }
            guard expDigits > 0 else { return false }
        }
        return i == end
    }

    /// Parses an already validated decimal number, correctly rounded and
    /// independent of the C locale (the standard library's parser). Short
    /// fields fit in a small String, so this does not allocate.
    static func double(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double {
        Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)) ?? .nan
    }

    /// As `double`, rounded once to Float (±infinity when out of range).
    static func float(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Float {
        Float(String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)) ?? .nan
    }
}

/// Reads a numeric CSV into a `CSVDataset`.
private struct NumericCSVReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let file: String

    func text(_ f: CSVScanner.Field, _ scanner: CSVScanner) -> String { scanner.string(f) }

    /// Whether a field is a number (quoted numbers allowed).
    func isNumber(_ f: CSVScanner.Field) -> Bool {
        if f.hasEscapes { return false }
        let (s, e) = DecimalNumber.trimmed(bytes, f.start, f.end)
        return DecimalNumber.isValid(bytes, s, e)
    }

    func isEmpty(_ f: CSVScanner.Field) -> Bool {
        let (s, e) = DecimalNumber.trimmed(bytes, f.start, f.end)
        return s == e
    }

    func read(label: LabelColumn, header headerMode: CSVHeaderMode, labelKind: CSVLabelKind) throws -> CSVDataset {
        var scanner = CSVScanner(bytes: bytes, file: file)
        var fields: [CSVScanner.Field] = []

        // First non-blank record: header or data.
        var firstLine = 0
        while let line = try scanner.nextRecord(into: &fields) {
            if CSVScanner.isBlank(fields, bytes) { continue }
            firstLine = line
            break
        }
        guard firstLine > 0 else { throw DataError(file: file, message: "file is empty (no header, no data rows)") }
        let columnCount = fields.count
        let hasHeader: Bool
        switch headerMode {
        case .present: hasHeader = true
        case .absent: hasHeader = false
        case .automatic: hasHeader = fields.contains { !isEmpty($0) && !isNumber($0) }
        }
        let names: [String] = hasHeader
            ? fields.map { scanner.string($0).trimmingCharacters(in: .whitespaces) }
            : (1...columnCount).map { "column\($0)" }
        guard columnCount >= 2 else {
            throw DataError(file: file, line: firstLine,
                            message: "found \(columnCount) column; need at least 2 (features and a label)")
        }

        // Which column is the label.
        let labelIndex: Int
        switch label {
        case .automatic:
            if hasHeader, let i = names.firstIndex(of: "label") ?? names.firstIndex(where: { $0.lowercased() == "label" }) {
                labelIndex = i
            } else {
                labelIndex = columnCount - 1
            }
        case .name(let wanted):
            guard hasHeader else {
                throw DataError(file: file, line: firstLine,
                                message: "label column \(quotedForMessage(wanted)) requested by name, but the file has no header")
            }
            guard let i = names.firstIndex(of: wanted) else {
                let shown = names.prefix(20).map { quotedForMessage($0) }.joined(separator: ", ") + (names.count > 20 ? ", …" : "")
                throw DataError(file: file, line: firstLine,
                                message: "no column named \(quotedForMessage(wanted)) in the header (columns: \(shown))")
            }
            labelIndex = i
        case .index(let i):
            guard i >= 0, i < columnCount else {
                throw DataError(file: file, line: firstLine,
                                message: "label column index \(i) is out of range 0..<\(columnCount)")
            }
            labelIndex = i
        }

        let featureCount = columnCount - 1
        var features: [Float] = []
        var labels: [Int] = []
        var labelValues: [Float] = []
        features.reserveCapacity(featureCount * max(16, bytes.count / (4 * columnCount)))  // a guess; may grow once

        var pendingBlankLine: Int? = nil
        func addRow(line: Int) throws {
            if let blank = pendingBlankLine {
                throw DataError(file: file, line: blank, message: "blank line between data rows")
            }
            guard fields.count == columnCount else {
                throw DataError(file: file, line: line, message: "expected \(columnCount) columns, found \(fields.count)")
            }
            for (c, f) in fields.enumerated() {
                let (s, e) = DecimalNumber.trimmed(bytes, f.start, f.end)
                guard !f.hasEscapes, DecimalNumber.isValid(bytes, s, e) else {
                    let what = s == e ? "empty field" : "\(quotedForMessage(scanner.string(f))) is not a number"
                    throw DataError(file: file, line: line, column: c + 1, message: "\(what) (column \(quotedForMessage(names[c])))")
                }
                if c == labelIndex {
                    let v = DecimalNumber.double(bytes, s, e)
                    guard v.isFinite, abs(v) <= Double(Float.greatestFiniteMagnitude) else {
                        throw DataError(file: file, line: line, column: c + 1,
                                        message: "\(quotedForMessage(scanner.string(f))) is out of Float range (label column \(quotedForMessage(names[c])))")
                    }
                    if labelKind == .classification {
                        guard v >= 0, v == v.rounded(), v <= Double(Int32.max) else {
                            throw DataError(file: file, line: line, column: c + 1,
                                            message: "class label \(quotedForMessage(scanner.string(f))) is not a non-negative integer (label column \(quotedForMessage(names[c])))")
                        }
                        labels.append(Int(v))
                    }
                    labelValues.append(Float(v))
                } else {
                    let v = DecimalNumber.float(bytes, s, e)
                    guard v.isFinite else {
                        throw DataError(file: file, line: line, column: c + 1,
                                        message: "\(quotedForMessage(scanner.string(f))) is out of Float range (column \(quotedForMessage(names[c])))")
                    }
                    features.append(v)
                }
            }
        }

        if !hasHeader { try addRow(line: firstLine) }
        while let line = try scanner.nextRecord(into: &fields) {
            if CSVScanner.isBlank(fields, bytes) {
                if pendingBlankLine == nil { pendingBlankLine = line }
                continue
            }
            try addRow(line: line)
        }
        guard !labelValues.isEmpty else {
            throw DataError(file: file, line: firstLine, message: "file has a header but no data rows")
        }
        var featureNames = names
        let labelName = featureNames.remove(at: labelIndex)
        precondition(featureNames.count == featureCount)
        return CSVDataset(featureNames: featureNames, labelName: labelName, features: features,
                          labels: labels, labelValues: labelValues)
    }
}

// MARK: - Deterministic randomness

/// The data layer's pseudo-random generator: SplitMix64 (Steele, Lea &
/// Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
///
/// State: one `UInt64`. Each step adds the golden-ratio increment
/// `0x9E3779B97F4A7C15` and returns the state passed through the
/// finaliser `z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
/// z *= 0x94D049BB133111EB; z ^= z >> 31`. It passes BigCrush, which is
/// ample for shuffling and sampling.
///
/// Determinism: the same seed gives the same sequence on every run, machine
/// and Swift version, and so does everything built on it here (`nextInt`,
/// `DataSplit`): they use only this generator and their own arithmetic,
/// never the standard library's `shuffle`/`random(in:)`, whose algorithms
/// are not promised to stay the same.
public struct DataRNG: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's whole state.
    public var state: UInt64

    /// Starts the sequence for `seed` (any value, including 0).
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `0..<bound` (bound > 0), without
    /// modulo bias (Lemire's multiply-and-reject method).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold { product = next().multipliedFullWidth(by: n) }
        }
        return Int(product.high)
    }

    /// A uniformly distributed Double in `[0, 1)` (53 random bits).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Shuffles `array` in place (Fisher–Yates, from the last element down).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// A generator for a derived stream (e.g. one per epoch) that does not
    /// overlap in practice with `seed`'s own sequence.
    public static func derived(seed: UInt64, stream: UInt64) -> DataRNG {
        var mixer = DataRNG(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return DataRNG(seed: mixer.next())
    }
}

// MARK: - Splitting and batching

/// Seeded index permutations, train/validation splits and batches.
public enum DataSplit {
    /// A seeded random permutation of `0..<count`.
    public static func permutation(count: Int, seed: UInt64) -> [Int] {
        var rng = DataRNG(seed: seed)
        var indices = Array(0..<count)
        rng.shuffle(&indices)
        return indices
    }

    /// Splits `0..<count` at random into training and validation indices.
    ///
    /// The validation set has `round(count × validationFraction)` indices
    /// (halves round away from zero), drawn as the first ones of
    /// `permutation(count:seed:)`; both lists are returned sorted ascending.
    /// - Precondition: `0 ≤ validationFraction ≤ 1`.
    public static func trainValidation(count: Int, validationFraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        precondition((0...1).contains(validationFraction), "validationFraction must be in [0, 1]")
        let perm = permutation(count: count, seed: seed)
        let validationCount = min(count, Int((Double(count) * validationFraction).rounded()))
        return (perm[validationCount...].sorted(), perm[..<validationCount].sorted())
    }

    /// Cuts `indices` into consecutive batches of `batchSize` (the last one
    /// smaller unless `dropLast`, which drops an incomplete last batch).
    public static func batches(_ indices: [Int], batchSize: Int, dropLast: Bool = false) -> [[Int]] {
        precondition(batchSize > 0, "batchSize must be positive")
        var result: [[Int]] = []
        result.reserveCapacity(indices.count / batchSize + 1)
        var start = 0
        while start < indices.count {
            let end = min(start + batchSize, indices.count)
            if end - start < batchSize && dropLast { break }
            result.append(Array(indices[start..<end]))
            start = end
        }
        return result
    }

    /// One epoch's batches over `indices`: shuffled with a generator derived
    /// from `(seed, epoch)`, so each epoch has its own order and re-running
    /// an epoch reproduces it.
    public static func epochBatches(_ indices: [Int], batchSize: Int, seed: UInt64, epoch: Int, dropLast: Bool = false) -> [[Int]] {
        var rng = DataRNG.derived(seed: seed, stream: UInt64(truncatingIfNeeded: epoch))
        var order = indices
        rng.shuffle(&order)
        return batches(order, batchSize: batchSize, dropLast: dropLast)
    }
}

// MARK: - Standardisation

/// Per-feature standardisation `x' = (x − mean) / std`, fitted on training
/// data and applied unchanged to validation/test data.
///
/// `std` is the population standard deviation (divide by the row count, as
/// scikit-learn's `StandardScaler`); a feature with std 0 (constant) gets
/// std 1, so it is only centred. Statistics are accumulated in Double.
public struct FeatureStandardizer: Codable, Sendable, Equatable {
    /// Per-feature means, length `featureCount`.
    public var mean: [Float]
    /// Per-feature standard deviations (never 0), length `featureCount`.
    public var std: [Float]

    /// Uses given statistics. - Precondition: equal lengths, no zero std.
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "mean and std must have the same length")
        precondition(!std.contains(0), "std must not be 0")
        self.mean = mean
        self.std = std
    }

    /// Fits on row-major `features` of shape `[rows, featureCount]`
    /// (zero rows give mean 0, std 1).
    public init(fitting features: [Float], featureCount: Int) {
        precondition(featureCount > 0 && features.count % featureCount == 0, "features must be rows × featureCount")
        let rows = features.count / featureCount
        var sum = [Double](repeating: 0, count: featureCount)
        for r in 0..<rows {
            for c in 0..<featureCount { sum[c] += Double(features[r * featureCount + c]) }
        }
        let means = sum.map { rows > 0 ? $0 / Double(rows) : 0 }
        var squares = [Double](repeating: 0, count: featureCount)
        for r in 0..<rows {
            for c in 0..<featureCount {
                let d = Double(features[r * featureCount + c]) - means[c]
                squares[c] += d * d
            }
        }
        mean = means.map { Float($0) }
        std = squares.map { total in
            let s = Float(rows > 0 ? (total / Double(rows)).squareRoot() : 0)
            return s > 0 && s.isFinite ? s : 1
        }
    }

    /// Fits on a dataset's features.
    public init(fitting dataset: CSVDataset) {
        self.init(fitting: dataset.features, featureCount: dataset.featureCount)
    }

    /// Number of features the statistics are for.
    public var featureCount: Int { mean.count }

    /// Standardises row-major features of shape `[rows, featureCount]` in place.
    public func apply(to features: inout [Float]) {
        let f = featureCount
        precondition(features.count % f == 0, "features must be rows × featureCount")
        let inverse = std.map { 1 / $0 }
        for i in features.indices {
            let c = i % f
            features[i] = (features[i] - mean[c]) * inverse[c]
        }
    }

    /// Returns standardised copies of row-major features.
    public func transform(_ features: [Float]) -> [Float] {
        var copy = features
        apply(to: &copy)
        return copy
    }

    /// Standardises a dataset's features in place.
    public func apply(to dataset: inout CSVDataset) {
        precondition(dataset.featureCount == featureCount, "feature count mismatch")
        apply(to: &dataset.features)
    }
}
