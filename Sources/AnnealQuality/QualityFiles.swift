// The files the label-quality tools read and write: predicted-probability
// CSVs (validated row by row) and annotator tables (items × annotators,
// empty cells missing). Every problem is a `DataError` naming file:line.

import AnnealData
import Foundation

/// Whether the first record of a CSV is a header.
public enum HeaderMode: String, Sendable, CaseIterable {
    /// Decided from the content (see each reader).
    case auto
    /// The first record is a header.
    case yes
    /// There is no header.
    case no
}

/// A finite decimal number (`-1`, `2.5`, `.5`, `1e-3`; no nan, inf or hex), or nil.
func decimalNumber(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    guard !t.isEmpty, t.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x2B || $0 == 0x2D || $0 == 0x45 || $0 == 0x65 }),
          let v = Double(t), v.isFinite else { return nil }
    return v
}

/// Quotes text for a message, cut at 40 characters.
func quoted(_ text: String) -> String {
    let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
    return "\"" + shown.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
}

// MARK: - Predicted probabilities

/// A CSV of predicted class probabilities: one row per data row (same order),
/// one column per class, each row summing to 1.
public enum PredictedProbabilitiesFile {
    /// Largest accepted |Σ_k P[i][k] − 1| (`LabelQuality.predProbsSumTolerance`).
    public static var sumTolerance: Double { LabelQuality.predProbsSumTolerance }

    /// Reads and validates a probability file.
    ///
    /// Header: with `.auto`, the first record is a header when any of its
    /// fields is not a number. Every field must be a finite number in [0, 1];
    /// every row needs the same column count and must sum to 1 within
    /// `sumTolerance`.
    /// - Parameters:
    ///   - rowCount: required number of rows (the data's row count), with
    ///     `dataFile` naming that data in messages.
    ///   - classCount: minimum number of columns (the data's largest label + 1).
    /// - Throws: `DataError` naming `file:line` for a field that is not a
    ///   probability, a row of the wrong width or sum, too few or too many rows.
    public static func load(_ url: URL, header: HeaderMode = .auto, rowCount: Int? = nil, classCount: Int? = nil,
                            dataFile: String = "the data") throws -> [[Double]] {
        let file = url.lastPathComponent
        var records = try CSVParser.parse(contentsOf: url)
        guard let first = records.first else { throw DataError(file: file, message: "file is empty (no probability rows)") }
        let hasHeader: Bool
        switch header {
        case .yes: hasHeader = true
        case .no: hasHeader = false
        case .auto: hasHeader = first.fields.contains { decimalNumber($0) == nil }
        }
        if hasHeader { records.removeFirst() }
        guard let firstRow = records.first else {
            throw DataError(file: file, line: first.line, message: "header without probability rows")
        }
        let width = firstRow.fields.count
        if let classCount, width < classCount {
            throw DataError(file: file, line: firstRow.line,
                            message: "has \(width) probability columns, but \(dataFile) has labels up to \(classCount - 1) (need one column per class, at least \(classCount))")
        }
        var rows: [[Double]] = []
        rows.reserveCapacity(records.count)
        for (r, record) in records.enumerated() {
            if let rowCount, r == rowCount {
                throw DataError(file: file, line: record.line,
                                message: "extra row: \(dataFile) has only \(rowCount) rows (\(records.count) probability rows; need one per data row, in the same order)")
            }
            guard record.fields.count == width else {
                throw DataError(file: file, line: record.line,
                                message: "probability row \(r) has \(record.fields.count) columns, expected \(width) (one per class)")
            }
            var row = [Double](repeating: 0, count: width)
            var sum = 0.0
            for (c, field) in record.fields.enumerated() {
                guard let p = decimalNumber(field), p >= 0, p <= 1 else {
                    throw DataError(file: file, line: record.line, column: c + 1,
                                    message: "probability row \(r): \(quoted(field)) is not a probability in [0, 1]")
                }
                row[c] = p
                sum += p
            }
            guard abs(sum - 1) <= sumTolerance else {
                throw DataError(file: file, line: record.line,
                                message: "probability row \(r) sums to \(String(format: "%.6g", sum)), not 1 (tolerance \(sumTolerance))")
            }
            rows.append(row)
        }
        if let rowCount, rows.count < rowCount {
            throw DataError(file: file, line: records.last?.line,
                            message: "has \(rows.count) probability rows but \(dataFile) has \(rowCount) rows: data row \(rows.count) (0-based) and later have no probabilities")
        }
        return rows
    }

    /// Writes N × C probabilities as CSV with header `class_0,…,class_{C−1}`
    /// and 9 significant digits, atomically.
    public static func write(_ probabilities: [[Double]], to url: URL) throws {
        let c = probabilities.first?.count ?? 0
        var text = (0..<c).map { "class_\($0)" }.joined(separator: ",") + "\n"
        for row in probabilities {
            text += row.map { String(format: "%.9g", $0) }.joined(separator: ",") + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: url)
    }
}

// MARK: - Annotator tables

/// An items × annotators table of categorical labels read from CSV; an empty
/// cell means the annotator did not label the item.
///
/// Labels are kept as written (trimmed) and coded by their position in
/// `categories`: the declared labels in the declared order, else the sorted
/// distinct labels (integers numerically, then strings by code point, as
/// `LabelQuality.Category` orders them).
public struct AnnotationTable: Sendable {
    /// The file's name, for messages.
    public var file: String
    /// Annotator names (header fields, or `annotator_1`… without a header).
    public var annotators: [String]
    /// 1-based line of each item's record.
    public var lines: [Int]
    /// Labels as written, items × annotators; nil = missing.
    public var cells: [[String?]]
    /// The label set, in code order.
    public var categories: [LabelQuality.Category]
    /// Whether `categories` came from a declared label list.
    public var declared: Bool
    /// Category codes, items × annotators; nil = missing.
    public var codes: [[Int?]]

    /// Number of items (rows).
    public var itemCount: Int { cells.count }
    /// K, the number of categories.
    public var categoryCount: Int { categories.count }

    /// A label string as a category: an integer when it reads as one, else a string.
    public static func category(_ text: String) -> LabelQuality.Category {
        Int(text).map(LabelQuality.Category.int) ?? .string(text)
    }

    /// Reads an annotator table.
    ///
    /// Header: with `.auto`, the first record is a header when one of its
    /// non-empty fields is not a label (not a declared label, or — without
    /// declared labels — a value that never occurs in the other records).
    /// - Parameter labels: the declared label set; a cell outside it is an error.
    /// - Throws: `DataError` naming `file:line` for an empty file, a ragged
    ///   row (cell count ≠ annotator count), a label outside the declared set,
    ///   or a duplicate declared label.
    public static func load(_ url: URL, header: HeaderMode = .auto, labels: [String]? = nil) throws -> AnnotationTable {
        try make(records: CSVParser.parse(contentsOf: url), file: url.lastPathComponent, header: header, labels: labels)
    }

    /// Parses an annotator table from CSV text (see `load`).
    public static func parse(_ text: String, file: String = "<string>", header: HeaderMode = .auto,
                             labels: [String]? = nil) throws -> AnnotationTable {
        try make(records: CSVParser.parse(text, file: file), file: file, header: header, labels: labels)
    }

    static func make(records: [CSVRecord], file: String, header: HeaderMode, labels: [String]?) throws -> AnnotationTable {
        guard let first = records.first else { throw DataError(file: file, message: "file is empty (no items)") }
        let declaredList = labels?.map { $0.trimmingCharacters(in: .whitespaces) }
        if let declaredList {
            var seen = Set<String>()
            for l in declaredList where !seen.insert(l).inserted {
                throw DataError(file: file, message: "declared label \(quoted(l)) appears twice in --labels")
            }
            if declaredList.contains("") { throw DataError(file: file, message: "--labels contains an empty label") }
        }
        func trimmed(_ fields: [String]) -> [String] { fields.map { $0.trimmingCharacters(in: .whitespaces) } }
        let hasHeader: Bool
        switch header {
        case .yes: hasHeader = true
        case .no: hasHeader = false
        case .auto:
            let known = declaredList.map(Set.init) ?? Set(records.dropFirst().flatMap { trimmed($0.fields) })
            hasHeader = trimmed(first.fields).contains { !$0.isEmpty && !known.contains($0) }
        }
        let width = first.fields.count
        let annotators = hasHeader
            ? trimmed(first.fields).enumerated().map { $0.element.isEmpty ? "annotator_\($0.offset + 1)" : $0.element }
            : (1...width).map { "annotator_\($0)" }
        let body = hasHeader ? Array(records.dropFirst()) : records
        guard !body.isEmpty else { throw DataError(file: file, line: first.line, message: "header without items") }
        var cells: [[String?]] = []
        cells.reserveCapacity(body.count)
        let declaredSet = declaredList.map(Set.init)
        for record in body {
            guard record.fields.count == width else {
                throw DataError(file: file, line: record.line,
                                message: "ragged table: this row has \(record.fields.count) cells, expected \(width) (one per annotator; leave a cell empty for a missing label)")
            }
            let row: [String?] = trimmed(record.fields).map { $0.isEmpty ? nil : $0 }
            if let declaredSet {
                for (c, v) in row.enumerated() {
                    if let v, !declaredSet.contains(v) {
                        throw DataError(file: file, line: record.line, column: c + 1,
                                        message: "label \(quoted(v)) (annotator \(annotators[c])) is not one of the declared labels \(declaredList!.joined(separator: ","))")
                    }
                }
            }
            cells.append(row)
        }
        let categories: [LabelQuality.Category]
        if let declaredList {
            categories = declaredList.map(category)
        } else {
            categories = Set(cells.flatMap { $0.compactMap { $0.map(category) } }).sorted()
        }
        var position: [LabelQuality.Category: Int] = [:]
        for (i, c) in categories.enumerated() { position[c] = i }
        let codes = cells.map { row in row.map { $0.flatMap { position[category($0)] } } }
        return AnnotationTable(file: file, annotators: annotators, lines: body.map(\.line), cells: cells,
                               categories: categories, declared: declaredList != nil, codes: codes)
    }

    /// A `DataError` about item `item` (0-based), located at its line.
    public func error(item: Int, column: Int? = nil, _ message: String) -> DataError {
        DataError(file: file, line: lines[item], column: column, message: message)
    }

    /// The line range of the items, for messages about the whole table ("lines 2–11").
    public var lineRange: String {
        guard let a = lines.first, let b = lines.last else { return "no lines" }
        return a == b ? "line \(a)" : "lines \(a)–\(b)"
    }
}
