import Foundation
import Testing
import AnnealData

private typealias LQ = LabelQuality

private func fixtureData() throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "labelquality", withExtension: "json"),
                           "labelquality.json missing from the test bundle (Tests/AnnealDataTests/Resources)")
    return try Data(contentsOf: url)
}

private func near(_ a: Double?, _ b: Double, tol: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tol + 1e-9 * abs(b)
}

@Suite("Label quality")
struct LabelQualityTests {
    // MARK: Conformance fixture

    @Test("all 64 fixture cases pass")
    func conformanceFixture() throws {
        let results = try runLabelQualityConformance(fileData: try fixtureData(), fileName: "labelquality.json")
        #expect(results.count == 64)
        let failures = results.filter { $0.failure != nil }
        for f in failures { Issue.record("\(f.name): \(f.failure!)") }
        #expect(failures.isEmpty)
    }

    @Test("a wrong expectation is reported as a failure")
    func conformanceDetectsMismatch() throws {
        var text = try #require(String(data: try fixtureData(), encoding: .utf8))
        let before = text
        text = text.replacingOccurrences(of: "0.4915254237288136", with: "0.4915")
        #expect(text != before, "fixture no longer contains the value this test edits")
        let results = try runLabelQualityConformance(fileData: Data(text.utf8), fileName: "edited.json")
        let first = try #require(results.first)
        #expect(first.name == "cohen_kappa/00/none/n10-k3")
        #expect(first.failure?.contains("kappa") == true)
        #expect(results.dropFirst().allSatisfy { $0.failure == nil })
    }

    @Test("an exact field mismatch is reported")
    func conformanceDetectsIndexMismatch() throws {
        let json = """
        {"format": "anneal-labelquality-conformance/1", "cases": [
          {"name": "mv", "kind": "majority_vote",
           "inputs": {"labels_multiannotator": [[0, 0, 1], [1, 1, null]], "pred_probs": null, "num_classes": 2},
           "expected": {"labels": [0, 0]}}]}
        """
        let results = try runLabelQualityConformance(fileData: Data(json.utf8), fileName: "mv.json")
        #expect(results.count == 1)
        #expect(results[0].failure != nil)
    }

    @Test("malformed files throw errors naming the file and problem")
    func malformedFiles() {
        func message(_ text: String) -> String? {
            do {
                _ = try runLabelQualityConformance(fileData: Data(text.utf8), fileName: "bad.json")
                return nil
            } catch let e as LabelQualityError {
                return e.description
            } catch {
                return "unexpected error type: \(error)"
            }
        }
        let notJSON = message("{\"format\": ")
        #expect(notJSON?.contains("bad.json") == true)
        #expect(notJSON?.contains("not valid JSON") == true)

        let wrongFormat = message(#"{"format": "anneal-conformance/1", "cases": []}"#)
        #expect(wrongFormat?.contains("unsupported format") == true)

        let noCases = message(#"{"format": "anneal-labelquality-conformance/1"}"#)
        #expect(noCases?.contains("cases") == true)

        let unknownKind = message(#"{"format": "anneal-labelquality-conformance/1", "cases": [{"name": "x", "kind": "gini", "inputs": {}, "expected": {}}]}"#)
        #expect(unknownKind?.contains("unknown kind") == true)
        #expect(unknownKind?.contains("'x'") == true)

        let missingInput = message(#"{"format": "anneal-labelquality-conformance/1", "cases": [{"name": "k", "kind": "cohen_kappa", "inputs": {"y1": [0, 1]}, "expected": {"kappa": 1.0}}]}"#)
        #expect(missingInput?.contains("inputs.y2") == true)

        let ragged = message(#"{"format": "anneal-labelquality-conformance/1", "cases": [{"name": "f", "kind": "fleiss_kappa", "inputs": {"table": [[1, 2], [3]], "method": "fleiss"}, "expected": {"kappa": 0.0}}]}"#)
        #expect(ragged?.contains("row 1") == true)

        let badProbs = message(#"{"format": "anneal-labelquality-conformance/1", "cases": [{"name": "s", "kind": "label_quality_scores", "inputs": {"labels": [0, 1], "pred_probs": [[0.5, 0.5], [0.7, 0.7]], "method": "self_confidence", "adjust_pred_probs": false}, "expected": {"scores": [0.5, 0.7]}}]}"#)
        #expect(badProbs?.contains("pred_probs row 1") == true)

        let wrongType = message(#"{"format": "anneal-labelquality-conformance/1", "cases": [{"name": "a", "kind": "krippendorff_alpha", "inputs": {"reliability_data": [[1, "x"]], "level": "nominal"}, "expected": {"alpha": 0.0}}]}"#)
        #expect(wrongType?.contains("reliability_data[0][1]") == true)
    }

    // MARK: Cohen's kappa

    @Test func cohenPerfectAgreementIsOne() throws {
        let y = [0, 1, 2, 2, 1, 0, 3]
        for w in LQ.KappaWeighting.allCases {
            #expect(try LQ.cohenKappa(y, y, weights: w) == 1.0)
        }
    }

    @Test func cohenHandComputed() throws {
        // O = [[1,1],[0,2]]: p_o = 3/4, r = (2,2), c = (1,3), p_e = (2·1 + 2·3)/16 = 1/2 → κ = 0.5.
        #expect(near(try LQ.cohenKappa([0, 0, 1, 1], [0, 1, 1, 1]), 0.5))
        // Anti-agreement on two labels: p_o = 0, p_e = 1/2 → κ = −1.
        #expect(near(try LQ.cohenKappa([0, 1, 0, 1], [1, 0, 1, 0]), -1.0))
        // String labels give the same value as their integer codes.
        #expect(near(try LQ.cohenKappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 0.5))
    }

    @Test func cohenWeightsUsePositionsNotValues() throws {
        // Labels {1, 2, 5, 9}: only positions matter, so relabelling to 0…3 changes nothing.
        let a = [1, 5, 9, 2, 5, 1, 9, 2]
        let b = [2, 5, 5, 2, 9, 1, 9, 1]
        let map = [1: 0, 2: 1, 5: 2, 9: 3]
        let k1 = try LQ.cohenKappa(a, b, weights: .quadratic)
        let k2 = try LQ.cohenKappa(a.map { map[$0]! }, b.map { map[$0]! }, weights: .quadratic)
        #expect(k1 != nil && k1 == k2)
    }

    @Test func cohenUndefinedIsNil() throws {
        #expect(try LQ.cohenKappa([2, 2, 2], [2, 2, 2]) == nil)
        #expect(try LQ.cohenKappa([Int](), [Int]()) == nil)
        #expect(throws: LabelQualityError.self) { try LQ.cohenKappa([1, 2], [1]) }
    }

    // MARK: Fleiss' kappa

    @Test func fleissWikipediaExample() throws {
        // Fleiss (1971) style example from Wikipedia: 10 subjects, 14 raters, 5 categories.
        let table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                     [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
        #expect(near(try LQ.fleissKappa(table: table), 0.20993070442195522))
        // Randolph: P_e = 1/5; P̄ = 0.37802197… → (P̄ − 0.2)/0.8.
        #expect(near(try LQ.fleissKappa(table: table, method: .randolph), 0.2225274725274725))
    }

    @Test func fleissPerfectAndErrors() throws {
        #expect(near(try LQ.fleissKappa(table: [[3, 0], [0, 3], [3, 0]]), 1.0))
        let e = #expect(throws: LabelQualityError.self) { try LQ.fleissKappa(table: [[2, 1], [1, 1]]) }
        #expect(e?.row == 1)
        #expect(throws: LabelQualityError.self) { try LQ.fleissKappa(table: [[2, 1], [3]]) }
        let table = try LQ.aggregateRaters([[0, 1, 1], [2, 2, 2]], numCategories: 3)
        #expect(table == [[1, 2, 0], [0, 0, 3]])
    }

    // MARK: Krippendorff's alpha

    @Test func krippendorffWorkedExample() throws {
        // Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 3 raters × 15 units.
        let d: [[Double?]] = [
            [nil, nil, nil, nil, nil, 3, 4, 1, 2, 1, 1, 3, 3, nil, 3],
            [1, nil, 2, 1, 3, 3, 4, 3, nil, nil, nil, nil, nil, nil, nil],
            [nil, nil, 2, 1, 3, 4, 4, nil, 2, 1, 1, 3, 3, nil, 4],
        ]
        #expect(near(try LQ.krippendorffAlpha(reliabilityData: d, level: .nominal), 0.691358024691358))
        #expect(near(try LQ.krippendorffAlpha(reliabilityData: d, level: .interval), 0.8108448928121059))
        #expect(near(try LQ.krippendorffAlpha(reliabilityData: d), 0.8108448928121059)) // default = interval
    }

    @Test func krippendorffPerfectAndErrors() throws {
        #expect(try LQ.krippendorffAlpha(reliabilityData: [[1, 2, 3], [1, 2, 3]], level: .ordinal) == 1.0)
        // Single-valued data raises instead of returning 1.
        #expect(throws: LabelQualityError.self) { try LQ.krippendorffAlpha(reliabilityData: [[1, 1], [1, 1]]) }
        // No unit with two ratings.
        #expect(throws: LabelQualityError.self) { try LQ.krippendorffAlpha(reliabilityData: [[1, nil], [nil, 2]]) }
        let e = #expect(throws: LabelQualityError.self) { try LQ.krippendorffAlpha(reliabilityData: [[1, 2], [1]]) }
        #expect(e?.row == 1)
    }

    // MARK: Confident learning

    @Test func roundPreservingSumKeepsTotal() {
        #expect(LQ.roundPreservingSum([0.4, 0.4, 0.2]) == [0, 1, 0])
        // 1/3 each: ints 0, total 1 → the +1 goes to the highest index among equal residuals.
        #expect(LQ.roundPreservingSum([1.0 / 3, 1.0 / 3, 1.0 / 3]) == [0, 0, 1])
        #expect(LQ.roundPreservingSum([2.5, 1.5, 3.0]) == [2, 2, 3])
        #expect(LQ.roundPreservingSum([1.6, 1.6, 1.8]) == [1, 2, 2])
    }

    @Test func pairwiseSumMatchesPlainSumForSmallInputs() {
        let x = (0..<300).map { Double($0) * 0.5 }
        #expect(LQ.pairwiseSum(x) == x.reduce(0, +))
        #expect(LQ.pairwiseSum([]) == 0)
    }

    @Test func confidentJointHandExample() throws {
        // Class 2 is absent: threshold 2.0, calibrated row all zero.
        let labels = [0, 0, 1, 1, 0]
        let p: [[Double]] = [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.85, 0.05]]
        let a = try LQ.analyzeConfidentJoint(labels: labels, predProbs: p)
        #expect(near(a.thresholds[0], (0.9 + 0.8 + 0.1) / 3))
        #expect(near(a.thresholds[1], 0.75))
        #expect(a.thresholds[2] == 2.0)
        #expect(a.confidentJoint == [[2, 1, 0], [0, 1, 0], [0, 0, 1]])
        #expect(a.offDiagonalIndices == [4])
        #expect(a.calibratedConfidentJoint == [[2, 1, 0], [0, 2, 0], [0, 0, 0]])
        #expect(a.joint.flatMap { $0 }.reduce(0, +) == 1)
        #expect(a.numLabelIssues == 1)
        let mask = try LQ.findLabelIssues(labels: labels, predProbs: p)
        #expect(mask == [false, false, false, false, true])
    }

    @Test func labelQualityScoresHandComputed() throws {
        let labels = [0, 1]
        let p: [[Double]] = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2]]
        #expect(try LQ.labelQualityScores(labels: labels, predProbs: p) == [0.7, 0.3])
        let m = try LQ.labelQualityScores(labels: labels, predProbs: p, method: .normalizedMargin)
        #expect(near(m[0], (0.7 - 0.2 + 1) / 2) && near(m[1], (0.3 - 0.5 + 1) / 2))
        let e = try LQ.labelQualityScores(labels: labels, predProbs: p, method: .confidenceWeightedEntropy)
        #expect(e.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(throws: LabelQualityError.self) {
            try LQ.labelQualityScores(labels: labels, predProbs: p, method: .confidenceWeightedEntropy, adjustPredProbs: true)
        }
    }

    @Test func predProbsValidation() {
        let rows = #expect(throws: LabelQualityError.self) {
            try LQ.findLabelIssues(labels: [0, 1, 1], predProbs: [[0.5, 0.5], [0.1, 0.9]])
        }
        #expect(rows?.description.contains("2 rows") == true)
        let sum = #expect(throws: LabelQualityError.self) {
            try LQ.findLabelIssues(labels: [0, 1], predProbs: [[0.5, 0.5], [0.4, 0.4]])
        }
        #expect(sum?.row == 1)
        let width = #expect(throws: LabelQualityError.self) {
            try LQ.findLabelIssues(labels: [0, 1], predProbs: [[0.5, 0.5], [0.2, 0.3, 0.5]])
        }
        #expect(width?.row == 1)
        let label = #expect(throws: LabelQualityError.self) {
            try LQ.numLabelIssues(labels: [0, 3], predProbs: [[0.5, 0.5], [0.5, 0.5]])
        }
        #expect(label?.row == 1)
        #expect(label?.description.contains("outside") == true)
    }

    // MARK: Aggregation

    @Test func majorityVoteTieBreaks() throws {
        // Item 0: unique mode. Item 1: tie 0/1 broken by pred_probs.
        let table: [[Int?]] = [[0, 0, 1], [0, 1, nil], [2, 2, 2]]
        let p: [[Double]] = [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]
        #expect(try LQ.majorityVote(table, predProbs: p) == [0, 1, 2])
        // Without pred_probs: class totals 0 → 3 votes, 1 → 2 votes; the rarer class 1 wins.
        #expect(try LQ.majorityVote(table, numClasses: 3) == [0, 1, 2])
        let agreement = try LQ.annotatorAgreementWithConsensus(table, consensus: [0, 1, 2])
        #expect(agreement.count == 3 && agreement[0] == 2.0 / 3 && agreement[1] == 1 && agreement[2] == 0.5)
        #expect(try LQ.itemAgreementWithConsensus(table, consensus: [0, 1, 2]) == [2.0 / 3, 0.5, 1])
    }

    @Test func majorityVoteAnnotatorScoreTieBreak() throws {
        // Item 2 is tied 0/1, class totals are equal (4 each), so stage 3 decides:
        // annotators 0 and 1 always agree with the consensus of items 0–1, annotator 2 never.
        #expect(try LQ.majorityVote([[0, 0, 1], [1, 1, 0], [0, nil, 1]]) == [0, 1, 0])
        #expect(try LQ.majorityVote([[0, 0, 1], [1, 1, 0], [1, nil, 0]]) == [0, 1, 1])
    }

    @Test func multiannotatorValidation() {
        let ragged = #expect(throws: LabelQualityError.self) { try LQ.majorityVote([[0, 1], [1]]) }
        #expect(ragged?.row == 1)
        #expect(ragged?.description.contains("ragged") == true)
        let outside = #expect(throws: LabelQualityError.self) { try LQ.majorityVote([[0, 1], [1, 5]], numClasses: 3) }
        #expect(outside?.row == 1)
        let empty = #expect(throws: LabelQualityError.self) { try LQ.majorityVote([[0, 1], [nil, nil]]) }
        #expect(empty?.row == 1)
    }

    @Test func dawidSkeneRecoversUnanimousLabels() throws {
        let table: [[Int?]] = [[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, nil], [2, 2, 2], [2, nil, 2]]
        let r = try LQ.dawidSkene(table, numClasses: 3)
        #expect(r.labels == [0, 1, 0, 1, 2, 2])
        #expect(abs(r.priors.reduce(0, +) - 1) < 1e-9)
        #expect(r.errors.count == 3)
        #expect(r.iterations >= 1)
        for row in r.probas { #expect(row.allSatisfy { $0 >= 1e-10 && $0 <= 1 }) }
    }
}
