// Annotator tables, probability files, agreement and aggregation from files,
// and every `anneal labels` error path (run on the built executable) naming
// the file, the row and the problem.

import AnnealData
import Foundation
import Testing
import AnnealQuality

private typealias LQ = LabelQuality

@Suite("Label-quality files")
struct QualityFileTests {
    @Test("annotator table: header detection, missing cells, codes")
    func annotatorTable() throws {
        let t = try AnnotationTable.parse("r1,r2,r3\ncat,dog,\ndog,dog,cat\n,cat,cat\n", file: "a.csv")
        #expect(t.annotators == ["r1", "r2", "r3"])
        #expect(t.lines == [2, 3, 4])
        #expect(t.categories == [.string("cat"), .string("dog")])
        #expect(t.codes == [[0, 1, nil], [1, 1, 0], [nil, 0, 0]])
        let headerless = try AnnotationTable.parse("1,2\n2,2\n3,1\n", file: "b.csv")
        #expect(headerless.annotators == ["annotator_1", "annotator_2"] && headerless.itemCount == 3)
        #expect(headerless.categories == [.int(1), .int(2), .int(3)])
        let declared = try AnnotationTable.parse("a,b\nlow,high\nmid,low\n", file: "c.csv", labels: ["low", "mid", "high"])
        #expect(declared.codes == [[0, 2], [1, 0]] && declared.declared)
    }

    @Test("agreement from a table equals the LabelQuality statistics")
    func agreement() throws {
        let t = try AnnotationTable.parse("x,y,z\n1,1,2\n2,2,2\n3,2,3\n1,1,1\n2,3,3\n", file: "k.csv")
        let pair = try t.cohenKappa(weights: .linear)
        #expect(pair.pairs.count == 3)
        let direct = try LQ.cohenKappa([1, 2, 3, 1, 2], [1, 2, 2, 1, 3], weights: .linear)
        #expect(pair.pairs[0].kappa == direct)
        let mean = pair.pairs.compactMap(\.kappa).reduce(0, +) / 3
        #expect(abs(pair.value! - mean) < 1e-15)
        let fleiss = try t.fleissKappa()
        #expect(fleiss.value == (try LQ.fleissKappa(table: [[2, 1, 0], [0, 3, 0], [0, 1, 2], [3, 0, 0], [0, 1, 2]])))
        let alpha = try t.krippendorffAlpha(level: .interval)
        let rows: [[Double?]] = [[1, 2, 3, 1, 2], [1, 2, 2, 1, 3], [2, 2, 3, 1, 3]]
        #expect(alpha.value == (try LQ.krippendorffAlpha(reliabilityData: rows, level: .interval)))
    }

    @Test("majority vote and Dawid–Skene consensus with annotator agreement")
    func aggregation() throws {
        let text = "a,b,c\n0,0,1\n1,1,1\n0,1,0\n1,,1\n0,0,0\n"
        let t = try AnnotationTable.parse(text, file: "agg.csv")
        let mv = try t.aggregate(method: .majority)
        #expect(mv.consensus == [0, 1, 0, 1, 0])
        #expect(mv.annotators.map(\.labelled) == [5, 4, 5])
        #expect(mv.annotators[0].agreement == 1 && mv.annotators[1].agreement == 0.75 && mv.annotators[2].agreement == 0.8)
        #expect(abs(mv.confidence[0] - 2.0 / 3) < 1e-12 && mv.annotations == [3, 3, 3, 2, 3])
        let ds = try t.aggregate(method: .dawidSkene)
        let direct = try LQ.dawidSkene(t.codes, numClasses: 2)
        #expect(ds.consensus == direct.labels)
        let confusion = try #require(ds.annotators[2].confusion)
        for c in 0..<2 {
            #expect(abs(confusion[c].reduce(0, +) - 1) < 1e-9)
            for l in 0..<2 { #expect(confusion[c][l] == direct.errors[2][l][c]) }
        }
    }

    @Test("probability file: header, round trip")
    func probabilityFile() throws {
        let file = try TempFile("p.csv", "class_0,class_1\n0.25,0.75\n1,0\n")
        defer { file.cleanup() }
        #expect(try PredictedProbabilitiesFile.load(file.url, rowCount: 2, classCount: 2) == [[0.25, 0.75], [1, 0]])
        let out = file.url.deletingLastPathComponent().appendingPathComponent("q.csv")
        try PredictedProbabilitiesFile.write([[0.1, 0.9], [1.0 / 3, 2.0 / 3]], to: out)
        let back = try PredictedProbabilitiesFile.load(out)
        #expect(abs(back[1][0] - 1.0 / 3) < 1e-8)
    }

    // MARK: Error paths of the readers the CLI uses

    @Test("a ragged annotator table names file and line")
    func raggedTable() {
        let m = thrownMessage { _ = try AnnotationTable.parse("a,b,c\n1,2,3\n1,2\n", file: "ann.csv") }
        #expect(m?.hasPrefix("ann.csv:3: ragged table: this row has 2 cells, expected 3") == true, "\(m ?? "no error")")
    }

    @Test("a label outside the declared set names file, line, column and label")
    func labelOutsideSet() {
        let m = thrownMessage { _ = try AnnotationTable.parse("a,b\nx,y\ny,z\n", file: "ann.csv", labels: ["x", "y"]) }
        #expect(m?.hasPrefix("ann.csv:3: column 2: label \"z\"") == true, "\(m ?? "no error")")
        #expect(m?.contains("not one of the declared labels x,y") == true)
    }

    @Test("probability rows that do not sum to 1, are not probabilities or are the wrong width")
    func badProbabilityRows() throws {
        for (text, expected) in [("0.5,0.6\n0.5,0.5\n", "p.csv:1: probability row 0 sums to 1.1"),
                                 ("c0,c1\n0.5,0.5\n0.2,0.7\n", "p.csv:3: probability row 1 sums to 0.9"),
                                 ("0.5,0.5\n1.5,-0.5\n", "p.csv:2: column 1: probability row 1: \"1.5\" is not a probability"),
                                 ("0.5,0.5\n0.5,0.25,0.25\n", "p.csv:2: probability row 1 has 3 columns, expected 2")] {
            let file = try TempFile("p.csv", text)
            defer { file.cleanup() }
            let m = thrownMessage { _ = try PredictedProbabilitiesFile.load(file.url) }
            #expect(m?.hasPrefix(expected) == true, "\(m ?? "no error") (expected \(expected))")
        }
    }

    @Test("a probability file whose size does not match the data names the row")
    func sizeMismatch() throws {
        let file = try TempFile("p.csv", "0.5,0.5\n0.5,0.5\n0.5,0.5\n")
        defer { file.cleanup() }
        let fewer = thrownMessage { _ = try PredictedProbabilitiesFile.load(file.url, rowCount: 4, dataFile: "d.csv") }
        #expect(fewer?.hasPrefix("p.csv:3: has 3 probability rows but d.csv has 4 rows: data row 3") == true, "\(fewer ?? "no error")")
        let more = thrownMessage { _ = try PredictedProbabilitiesFile.load(file.url, rowCount: 2, dataFile: "d.csv") }
        #expect(more?.hasPrefix("p.csv:3: extra row: d.csv has only 2 rows") == true, "\(more ?? "no error")")
        let narrow = thrownMessage { _ = try PredictedProbabilitiesFile.load(file.url, classCount: 3, dataFile: "d.csv") }
        #expect(narrow?.hasPrefix("p.csv:1: has 2 probability columns, but d.csv has labels up to 2") == true, "\(narrow ?? "no error")")
    }

    @Test("single-valued data for Krippendorff's alpha, and other statistic errors")
    func statisticErrors() throws {
        let single = try AnnotationTable.parse("a,b\n3,3\n3,\n3,3\n", file: "k.csv")
        let m = thrownMessage { _ = try single.krippendorffAlpha(level: .nominal) }
        #expect(m?.hasPrefix("k.csv: single-valued data: every one of the 5 ratings (lines 2–4) is \"3\"") == true, "\(m ?? "no error")")
        let unpaired = try AnnotationTable.parse("a,b\n1,\n,2\n", file: "k.csv")
        #expect(thrownMessage { _ = try unpaired.krippendorffAlpha() }?.contains("no item (lines 2–3) has two or more ratings") == true)
        let words = try AnnotationTable.parse("a,b\n1,2\ngood,1\n", file: "k.csv")
        #expect(thrownMessage { _ = try words.krippendorffAlpha(level: .ratio) }?.hasPrefix("k.csv:3: column 1: label \"good\" is not a number") == true)
        let unequal = try AnnotationTable.parse("a,b,c\n1,2,1\n1,,2\n", file: "f.csv")
        #expect(thrownMessage { _ = try unequal.fleissKappa() }?.hasPrefix("f.csv:3: this item has 2 labels but the first item (line 2) has 3") == true)
        let empty = try AnnotationTable.parse("a,b\n1,2\n,\n", file: "g.csv")
        #expect(thrownMessage { _ = try empty.aggregate() }?.hasPrefix("g.csv:3: no annotator labelled this item") == true)
    }
}

// MARK: - The executable

/// The `anneal` executable built beside the test bundle (or `$ANNEAL_BIN`).
private func annealExecutable() throws -> URL {
    if let path = ProcessInfo.processInfo.environment["ANNEAL_BIN"] { return URL(fileURLWithPath: path) }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("anneal")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    Issue.record("the anneal executable is not next to the test bundle: build it with `swift build --build-tests` (same -c and --scratch-path) or set ANNEAL_BIN")
    throw CancellationError()
}

/// Runs `anneal args…`; returns (exit status, stdout, stderr).
private func anneal(_ args: [String]) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = try annealExecutable()
    process.arguments = args
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite("anneal labels (executable)")
struct LabelsCLITests {
    @Test("error paths exit 1 with file, row and problem on stderr")
    func errorPaths() throws {
        let ragged = try TempFile("ragged.csv", "a,b,c\n1,2,3\n1,2\n")
        let outside = try TempFile("outside.csv", "a,b\nx,y\ny,z\n")
        let single = try TempFile("single.csv", "a,b\n3,3\n3,3\n")
        let data = try TempFile("data.csv", "f1,f2,label\n0,1,0\n1,0,1\n1,1,1\n0,0,0\n")
        let badSum = try TempFile("probs.csv", "0.5,0.5\n0.9,0.2\n0.5,0.5\n0.5,0.5\n")
        let short = try TempFile("short.csv", "0.5,0.5\n0.5,0.5\n0.5,0.5\n")
        defer { [ragged, outside, single, data, badSum, short].forEach { $0.cleanup() } }
        let cases: [([String], String)] = [
            (["labels", "agreement", ragged.path, "--metric", "fleiss"], "error: ragged.csv:3: ragged table: this row has 2 cells, expected 3"),
            (["labels", "aggregate", ragged.path], "error: ragged.csv:3: ragged table"),
            (["labels", "agreement", outside.path, "--metric", "cohen", "--labels", "x,y"], "error: outside.csv:3: column 2: label \"z\" (annotator b) is not one of the declared labels x,y"),
            (["labels", "agreement", single.path, "--metric", "krippendorff"], "error: single.csv: single-valued data: every one of the 4 ratings (lines 2–3) is \"3\""),
            (["labels", "issues", "--data", data.path, "--pred-probs", badSum.path], "error: probs.csv:2: probability row 1 sums to 1.1"),
            (["labels", "issues", "--data", data.path, "--pred-probs", short.path], "error: short.csv:3: has 3 probability rows but data.csv has 4 rows: data row 3"),
        ]
        for (args, expected) in cases {
            let (status, _, stderr) = try anneal(args)
            #expect(status == 1, "\(args.joined(separator: " ")): exit \(status)")
            #expect(stderr.hasPrefix(expected), "\(args.joined(separator: " ")): stderr \(stderr)")
        }
    }

    @Test("issues --json with a probability file lists ranked issues and every score")
    func issuesJSON() throws {
        let data = try TempFile("d.csv", "f,label\n" + (0..<10).map { "\($0),\([0, 0, 0, 0, 1, 1, 1, 1, 0, 1][$0])" }.joined(separator: "\n") + "\n")
        let probs = try TempFile("p.csv", "0.9,0.1\n0.8,0.2\n0.95,0.05\n0.1,0.9\n0.2,0.8\n0.1,0.9\n0.3,0.7\n0.97,0.03\n0.85,0.15\n0.25,0.75\n")
        defer { data.cleanup(); probs.cleanup() }
        let (status, stdout, stderr) = try anneal(["labels", "issues", "--data", data.path, "--pred-probs", probs.path, "--json"])
        #expect(status == 0, "\(stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        #expect(object["issues"] as? [Int] == [7, 3])
        #expect((object["scores"] as? [Double])?.count == 10)
    }
}
