// Tests for the numeric CSV reader, the RFC 4180 parser, and the seeded
// shuffling / splitting / batching / standardisation utilities.

import Foundation
import Testing
import AnnealData

// MARK: - Shared helpers for the data I/O tests

/// Helpers shared by the data I/O test files (a namespace, to avoid clashes).
enum DataIOTestSupport {
    /// A fresh directory under the system temporary directory.
    static func makeDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("anneal-dataio-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to `name` in a fresh temporary directory.
    static func file(_ name: String, bytes: [UInt8]) throws -> URL {
        let url = try makeDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Writes UTF-8 `text` to `name` in a fresh temporary directory.
    static func file(_ name: String, _ text: String) throws -> URL {
        try file(name, bytes: Array(text.utf8))
    }

    /// Removes a file's temporary directory.
    static func cleanUp(_ url: URL) {
        try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
    }

    /// Runs `body`, which must throw a `DataError`, and returns it.
    static func error(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> DataError? {
        do {
            try body()
            Issue.record("expected a DataError, but nothing was thrown", sourceLocation: sourceLocation)
        } catch let e as DataError {
            return e
        } catch {
            Issue.record("expected a DataError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}

/// Loads CSV text from a temporary file named `t.csv`.
private func loadCSV(_ text: String, label: LabelColumn = .automatic, header: CSVHeaderMode = .automatic,
                     kind: CSVLabelKind = .classification) throws -> CSVDataset {
    let url = try DataIOTestSupport.file("t.csv", text)
    defer { DataIOTestSupport.cleanUp(url) }
    return try CSVDataset.load(url, label: label, header: header, labelKind: kind)
}

/// The DataError that loading CSV text throws.
private func csvError(_ text: String, label: LabelColumn = .automatic, kind: CSVLabelKind = .classification,
                      sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
    DataIOTestSupport.error(sourceLocation: sourceLocation) { _ = try loadCSV(text, label: label, kind: kind) }
}

// MARK: - Numeric CSV

@Suite struct CSVDatasetTests {
    @Test func headerIsDetectedAndLabelColumnNamedLabelIsUsed() throws {
        let d = try loadCSV("x,label,y\n1,0,2\n3.5,2,-4e1\n")
        #expect(d.featureNames == ["x", "y"])
        #expect(d.labelName == "label")
        #expect(d.features == [1, 2, 3.5, -40])
        #expect(d.labels == [0, 2])
        #expect(d.labelValues == [0, 2])
        #expect(d.rowCount == 2 && d.featureCount == 2 && d.classCount == 3)
        #expect(d.row(1) == [3.5, -40])
    }

    @Test func withoutHeaderTheLastColumnIsTheLabel() throws {
        let d = try loadCSV("1,2,0\n3,4,1\n")
        #expect(d.featureNames == ["column1", "column2"])
        #expect(d.labelName == "column3")
        #expect(d.features == [1, 2, 3, 4])
        #expect(d.labels == [0, 1])
    }

    @Test func headerWithoutLabelColumnUsesTheLastColumn() throws {
        let d = try loadCSV("a,b,target\n1,2,1\n")
        #expect(d.labelName == "target")
        #expect(d.featureNames == ["a", "b"])
    }

    @Test func labelColumnCanBeChosenByNameOrIndex() throws {
        let text = "a,b,c\n5,1,2\n6,0,3\n"
        let byName = try loadCSV(text, label: .name("b"))
        #expect(byName.labels == [1, 0])
        #expect(byName.featureNames == ["a", "c"])
        #expect(byName.features == [5, 2, 6, 3])
        let byIndex = try loadCSV(text, label: .index(0))
        #expect(byIndex.labels == [5, 6])
        #expect(byIndex.featureNames == ["b", "c"])
        let headerless = try loadCSV("7,1,2\n8,0,3\n", label: .index(0))
        #expect(headerless.labels == [7, 8])
        #expect(headerless.features == [1, 2, 0, 3])
    }

    @Test func badLabelColumnChoicesAreErrors() {
        let missing = csvError("a,b\n1,0\n", label: .name("label2"))
        #expect(missing?.line == 1)
        #expect(missing?.message.contains("no column named \"label2\"") == true)
        #expect(missing?.message.contains("\"a\", \"b\"") == true)
        let noHeader = csvError("1,0\n", label: .name("a"))
        #expect(noHeader?.message.contains("no header") == true)
        let outOfRange = csvError("a,b\n1,0\n", label: .index(2))
        #expect(outOfRange?.message == "label column index 2 is out of range 0..<2")
    }

    @Test func wrongColumnCountNamesTheLine() {
        let e = csvError("a,b,label\n1,2,0\n3,4,1\n5,6\n7,8,1\n")
        #expect(e?.description == "t.csv:4: expected 3 columns, found 2")
        let tooMany = csvError("1,2,0\n1,2,3,0\n")
        #expect(tooMany?.description == "t.csv:2: expected 3 columns, found 4")
    }

    @Test func nonNumberNamesLineAndColumn() {
        let e = csvError("a,b,label\n1,2,0\n3,abc,1\n")
        #expect(e?.line == 3)
        #expect(e?.column == 2)
        #expect(e?.description == "t.csv:3: column 2: \"abc\" is not a number (column \"b\")")
        #expect(csvError("a,b,label\n1,,0\n")?.message == "empty field (column \"b\")")
        #expect(csvError("1,2,0\n1,nan,0\n")?.line == 2)
        #expect(csvError("1,2,0\n1,inf,0\n")?.line == 2)
        #expect(csvError("1,2,0\n1,0x10,0\n")?.line == 2)
        #expect(csvError("1,2,0\n1,1e50,0\n")?.message.contains("out of Float range") == true)
    }

    @Test func lineNumbersCountCRLFAndQuotedLineBreaks() {
        #expect(csvError("a,b\r\n1,0\r\n2,x\r\n")?.line == 3)
        // The header's quoted name spans lines 1–2, so the bad record is on line 4.
        #expect(csvError("\"a\nb\",label\n1,0\n1,2,3\n")?.line == 4)
    }

    @Test func classLabelsMustBeNonNegativeIntegers() throws {
        let negative = csvError("a,label\n1,0\n2,-1\n")
        #expect(negative?.line == 3)
        #expect(negative?.message.contains("not a non-negative integer") == true)
        #expect(csvError("a,label\n1,1.5\n")?.line == 2)
        #expect(try loadCSV("a,label\n1,2.0\n").labels == [2])
        let regression = try loadCSV("a,label\n1,1.5\n2,-3\n", kind: .regression)
        #expect(regression.labels.isEmpty)
        #expect(regression.labelValues == [1.5, -3])
        #expect(regression.rowCount == 2)
    }

    @Test func emptyAndHeaderOnlyFilesAreClearErrors() {
        #expect(csvError("")?.message == "file is empty (no header, no data rows)")
        #expect(csvError("\n\n  \n")?.message == "file is empty (no header, no data rows)")
        #expect(csvError("a,b,label\n")?.message == "file has a header but no data rows")
        #expect(csvError("a,b,label\r\n\r\n")?.message == "file has a header but no data rows")
        #expect(csvError("a\n1\n")?.message.contains("need at least 2") == true)
    }

    @Test func crlfTrailingNewlinesAndBOMAreAccepted() throws {
        let d = try loadCSV("\u{FEFF}a,label\r\n1,0\r\n2,1\r\n\r\n\n  \n")
        #expect(d.featureNames == ["a"])
        #expect(d.features == [1, 2])
        #expect(d.labels == [0, 1])
        let noFinalNewline = try loadCSV("a,label\n1,0\n2,1")
        #expect(noFinalNewline.rowCount == 2)
        let oldMac = try loadCSV("a,label\r1,0\r2,1\r")
        #expect(oldMac.rowCount == 2)
    }

    @Test func blankLineBetweenRowsIsAnError() {
        let e = csvError("a,label\n1,0\n\n2,1\n")
        #expect(e?.line == 3)
        #expect(e?.message == "blank line between data rows")
    }

    @Test func quotedFieldsAndSpacesAreAccepted() throws {
        let d = try loadCSV("\"x, first\",\"y\",label\n\" 1.5\", 2 ,\"1\"\n")
        #expect(d.featureNames == ["x, first", "y"])
        #expect(d.features == [1.5, 2])
        #expect(d.labels == [1])
    }

    @Test func headerModeOverridesDetection() throws {
        let numericNames = try loadCSV("0,1,2\n5,6,1\n", header: .present)
        #expect(numericNames.featureNames == ["0", "1"])
        #expect(numericNames.rowCount == 1)
        let detected = try loadCSV("0,1,2\n5,6,1\n")
        #expect(detected.rowCount == 2)
        let forcedData = DataIOTestSupport.error { _ = try loadCSV("a,b\n1,0\n", header: .absent) }
        #expect(forcedData?.line == 1)
        #expect(forcedData?.message == "\"a\" is not a number (column \"column1\")")
    }

    @Test func subsetSplitAndBatch() throws {
        let d = try loadCSV("a,b,label\n" + (0..<10).map { "\($0),\($0 * 10),\($0 % 3)" }.joined(separator: "\n"))
        let (train, validation) = d.split(validationFraction: 0.3, seed: 1)
        #expect(train.rowCount == 7 && validation.rowCount == 3)
        #expect(Set(train.features.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            .isDisjoint(with: validation.features.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)))
        let b = d.batch([9, 0])
        #expect(b.features == [9, 90, 0, 0])
        #expect(b.labels == [0, 0])
        #expect(b.labelValues == [0, 0])
    }
}

// MARK: - RFC 4180 parser

@Suite struct CSVParserTests {
    @Test func quotedFieldsCommasDoubledQuotesAndNewlines() throws {
        let text = "id,text\r\n1,\"Hello, world\"\r\n2,\"She said \"\"hi\"\"\"\r\n3,\"two\nlines\"\n4,plain \"quote\"\n5,\n"
        let records = try CSVParser.parse(text, file: "c.csv")
        #expect(records.map(\.fields) == [
            ["id", "text"], ["1", "Hello, world"], ["2", "She said \"hi\""],
            ["3", "two\nlines"], ["4", "plain \"quote\""], ["5", ""],
        ])
        #expect(records.map(\.line) == [1, 2, 3, 4, 6, 7])
    }

    @Test func lastRecordWithoutNewlineAndBlankLines() throws {
        let records = try CSVParser.parse("a,b\n\n1,2\n\r\n\"\",3")
        #expect(records.map(\.fields) == [["a", "b"], ["1", "2"], ["", "3"]])
        #expect(records.map(\.line) == [1, 3, 5])
        #expect(try CSVParser.parse("a,\n").map(\.fields) == [["a", ""]])
        #expect(try CSVParser.parse("").isEmpty)
    }

    @Test func unterminatedQuoteNamesTheLineItStartsOn() {
        let e = DataIOTestSupport.error { _ = try CSVParser.parse("a,b\n1,\"open\n\nstill open", file: "c.csv") }
        #expect(e?.description == "c.csv:2: column 2: quoted field is never closed")
    }

    @Test func textAfterClosingQuoteIsAnError() {
        let e = DataIOTestSupport.error { _ = try CSVParser.parse("a\n\"x\"y,1\n", file: "c.csv") }
        #expect(e?.line == 2)
        #expect(e?.column == 1)
    }

    @Test func invalidUTF8InFileNamesByteOffset() throws {
        let url = try DataIOTestSupport.file("bad.csv", bytes: Array("a,b\n1,".utf8) + [0xC3, 0x28] + [0x0A])
        defer { DataIOTestSupport.cleanUp(url) }
        let e = DataIOTestSupport.error { _ = try CSVParser.parse(contentsOf: url) }
        #expect(e?.file == "bad.csv")
        #expect(e?.line == 2)
        #expect(e?.offset == 6)
    }

    @Test func tableChecksColumnCounts() throws {
        let url = try DataIOTestSupport.file("t.csv", "a,b\n1,2\n3\n")
        defer { DataIOTestSupport.cleanUp(url) }
        let e = DataIOTestSupport.error { _ = try CSVParser.table(contentsOf: url) }
        #expect(e?.description == "t.csv:3: expected 2 columns, found 1")
    }
}

// MARK: - Seeded utilities

@Suite struct SeededUtilityTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        var rng = DataRNG(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
        var r42 = DataRNG(seed: 42)
        #expect(r42.next() == 0xBDD7_3226_2FEB_6E95)
    }

    @Test func permutationIsPinnedAndDeterministic() {
        // Golden values from an independent Python implementation of the
        // documented algorithm (SplitMix64 + Lemire bounded ints + Fisher–Yates).
        #expect(DataSplit.permutation(count: 10, seed: 42) == [8, 3, 6, 5, 4, 0, 9, 2, 1, 7])
        #expect(DataSplit.permutation(count: 10, seed: 7) == [9, 5, 8, 6, 1, 2, 4, 7, 0, 3])
        let p = DataSplit.permutation(count: 1000, seed: 5)
        #expect(p == DataSplit.permutation(count: 1000, seed: 5))
        #expect(p != DataSplit.permutation(count: 1000, seed: 6))
        #expect(p.sorted() == Array(0..<1000))
    }

    @Test func boundedIntegersStayInRange() {
        var rng = DataRNG(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<2000 {
            let v = rng.nextInt(below: 7)
            #expect((0..<7).contains(v))
            seen.insert(v)
        }
        #expect(seen.count == 7)
        let u = rng.nextUnit()
        #expect(u >= 0 && u < 1)
    }

    @Test func trainValidationSplit() {
        let s = DataSplit.trainValidation(count: 100, validationFraction: 0.2, seed: 9)
        #expect(s.train.count == 80 && s.validation.count == 20)
        #expect(Set(s.train).isDisjoint(with: s.validation))
        #expect((s.train + s.validation).sorted() == Array(0..<100))
        #expect(s.train == s.train.sorted())
        let again = DataSplit.trainValidation(count: 100, validationFraction: 0.2, seed: 9)
        #expect(again.validation == s.validation)
        #expect(DataSplit.trainValidation(count: 100, validationFraction: 0.2, seed: 10).validation != s.validation)
        #expect(DataSplit.trainValidation(count: 5, validationFraction: 0, seed: 1).validation.isEmpty)
        #expect(DataSplit.trainValidation(count: 5, validationFraction: 1, seed: 1).train.isEmpty)
    }

    @Test func batching() {
        let idx = Array(0..<10)
        #expect(DataSplit.batches(idx, batchSize: 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]])
        #expect(DataSplit.batches(idx, batchSize: 3, dropLast: true) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
        #expect(DataSplit.batches([], batchSize: 4).isEmpty)
        let e0 = DataSplit.epochBatches(idx, batchSize: 4, seed: 1, epoch: 0)
        let e1 = DataSplit.epochBatches(idx, batchSize: 4, seed: 1, epoch: 1)
        #expect(e0 == DataSplit.epochBatches(idx, batchSize: 4, seed: 1, epoch: 0))
        #expect(e0 != e1)
        #expect(e0.flatMap { $0 }.sorted() == idx)
        #expect(e0.map(\.count) == [4, 4, 2])
    }

    @Test func standardizerFitsOnTrainAndAppliesToOthers() throws {
        // Column 0: 1, 3 → mean 2, std 1. Column 1: constant 10 → std 1.
        let s = FeatureStandardizer(fitting: [1, 10, 3, 10], featureCount: 2)
        #expect(s.mean == [2, 10])
        #expect(s.std == [1, 1])
        #expect(s.transform([1, 10, 3, 10]) == [-1, 0, 1, 0])
        #expect(s.transform([5, 12]) == [3, 2])
        var d = try loadCSV("a,b,label\n1,10,0\n3,10,1\n")
        let fitted = FeatureStandardizer(fitting: d)
        #expect(fitted == s)
        fitted.apply(to: &d)
        #expect(d.features == [-1, 0, 1, 0])
        let other = FeatureStandardizer(fitting: [0, 4, 8], featureCount: 1)
        #expect(abs(other.std[0] - 3.2659863) < 1e-6)  // population std of 0, 4, 8
        let json = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(FeatureStandardizer.self, from: json) == s)
    }
}
