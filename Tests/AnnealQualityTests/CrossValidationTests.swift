// Cross-validated probabilities are out-of-sample; label-issue detection on
// flipped digits labels finds the flips.

import Anneal
import AnnealData
import Foundation
import Testing
import _TestSupport
import AnnealQuality

@Suite("Cross-validation")
struct CrossValidationTests {
    @Test("stratified folds: balanced per class and overall, seeded")
    func stratifiedFolds() throws {
        let labels = (0..<103).map { $0 % 7 == 0 ? 2 : ($0 % 3 == 0 ? 1 : 0) }
        let folds = try CrossValidation.stratifiedFolds(labels: labels, folds: 5, seed: 11)
        #expect(folds.allSatisfy { (0..<5).contains($0) })
        let sizes = (0..<5).map { f in folds.filter { $0 == f }.count }
        #expect(sizes.max()! - sizes.min()! <= 1)
        for c in 0...2 {
            let perFold = (0..<5).map { f in labels.indices.filter { labels[$0] == c && folds[$0] == f }.count }
            #expect(perFold.max()! - perFold.min()! <= 1, "class \(c): \(perFold)")
        }
        #expect(try CrossValidation.stratifiedFolds(labels: labels, folds: 5, seed: 11) == folds)
        #expect(try CrossValidation.stratifiedFolds(labels: labels, folds: 5, seed: 12) != folds)
        #expect(thrownMessage { _ = try CrossValidation.stratifiedFolds(labels: labels, folds: 1, seed: 0) }?.contains("at least 2") == true)
        #expect(thrownMessage { _ = try CrossValidation.stratifiedFolds(labels: [0, 1], folds: 3, seed: 0) } != nil)
    }

    @Test("every row's probabilities come from the one model that did not train on it")
    func outOfSampleByFoldAssignment() throws {
        let labels = (0..<60).map { $0 % 3 }
        var trainingSets: [Int: Set<Int>] = [:]
        var heldOutSets: [Int: [Int]] = [:]
        // Each fold's "model" answers with a one-hot row naming its fold, so the
        // result shows which model produced every row.
        let result = try CrossValidation.outOfSampleProbabilities(labels: labels, classCount: 4, folds: 4, seed: 3) { training, heldOut, fold in
            trainingSets[fold] = Set(training)
            heldOutSets[fold] = heldOut
            return heldOut.map { _ in (0..<4).map { $0 == fold ? 1.0 : 0.0 } }
        }
        #expect(trainingSets.count == 4)
        #expect(heldOutSets.values.flatMap { $0 }.sorted() == Array(0..<60), "each row held out exactly once")
        for i in labels.indices {
            let producer = result.probabilities[i].firstIndex(of: 1)!
            #expect(producer == result.folds[i])
            #expect(!trainingSets[producer]!.contains(i), "row \(i) was in the training set of the model that predicted it")
            #expect(trainingSets[producer]!.count + heldOutSets[producer]!.count == labels.count)
        }
    }

    @Test("a wrongly shaped fold prediction is an error")
    func badFoldPrediction() {
        let message = thrownMessage {
            _ = try CrossValidation.outOfSampleProbabilities(labels: [0, 1, 0, 1], classCount: 2, folds: 2, seed: 0) { _, heldOut, _ in
                heldOut.dropFirst().map { _ in [0.5, 0.5] }
            }
        }
        #expect(message?.contains("fold 0") == true)
    }

    @Test("the MLP's cross-validated probabilities do not memorise random labels", arguments: BackendCase.all)
    func noMemorisation(_ backend: BackendCase) throws {
        try backend.run {
            let (x, y) = randomData(rows: 160, features: 6, classes: 4, seed: 5)
            let config = MLPClassifierConfig(hiddenSizes: [64], epochs: 100, batchSize: 16, learningRate: 1e-2, weightDecay: 0)
            let cv = try CrossValidation.outOfSampleProbabilities(features: x, featureCount: 6, labels: y, classCount: 4,
                                                                  folds: 4, seed: 1, config: config)
            let outOfSample = y.indices.map { cv.probabilities[$0][y[$0]] }.reduce(0, +) / Double(y.count)
            let inSampleModel = try MLPClassifier.train(features: x, featureCount: 6, labels: y, classCount: 4, config: config, seed: 1)
            let inSample = CrossValidation.probabilityRows(inSampleModel.probabilities(x))
            let memorised = y.indices.map { inSample[$0][y[$0]] }.reduce(0, +) / Double(y.count)
            // Random labels: a model that saw a row is confident in its label, a held-out one is at chance (1/4).
            #expect(memorised > 0.6, "in-sample self-confidence \(memorised)")
            #expect(outOfSample < 0.35, "out-of-sample self-confidence \(outOfSample)")
            for row in cv.probabilities { #expect(abs(row.reduce(0, +) - 1) < 1e-9) }
        }
    }

    @Test("flipped digits labels are found with sane precision and recall", arguments: BackendCase.all)
    func flippedLabelDetection(_ backend: BackendCase) throws {
        let digits = try loadDigits()
        let subset = digits.subset(Array(0..<600))
        let (noisy, flipped) = LabelNoise.flip(subset.labels, classCount: 10, fraction: 0.1, seed: 99)
        #expect(flipped.count == 60)
        #expect(flipped.allSatisfy { noisy[$0] != subset.labels[$0] })
        #expect(subset.labels.indices.filter { noisy[$0] != subset.labels[$0] } == flipped)
        try backend.run {
            let config = MLPClassifierConfig(epochs: 15)
            let cv = try CrossValidation.outOfSampleProbabilities(features: subset.features, featureCount: 64, labels: noisy,
                                                                  classCount: 10, folds: 3, seed: 4, config: config)
            let report = try LabelIssueReport(labels: noisy, predProbs: cv.probabilities)
            let score = DetectionScore(flagged: report.issues, actual: flipped)
            #expect(score.precision >= 0.7, "precision \(score.precision) (\(score.truePositives)/\(score.flagged))")
            #expect(score.recall >= 0.7, "recall \(score.recall) (\(score.truePositives)/\(score.actual))")
            // Ranked most suspect first, and scores cover every row.
            #expect(report.scores.count == 600)
            #expect(zip(report.issues, report.issues.dropFirst()).allSatisfy { report.scores[$0] <= report.scores[$1] })
        }
    }

    @Test("the issues JSON has issues (ranked) and one score per row")
    func issuesJSON() throws {
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 0, 1]
        let p: [[Double]] = [[0.9, 0.1], [0.8, 0.2], [0.95, 0.05], [0.1, 0.9], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7],
                             [0.97, 0.03], [0.85, 0.15], [0.25, 0.75]]
        let report = try LabelIssueReport(labels: labels, predProbs: p)
        let object = try #require(try JSONSerialization.jsonObject(with: report.json(extra: ["rows": 10])) as? [String: Any])
        let issues = try #require(object["issues"] as? [Int])
        let scores = try #require(object["scores"] as? [Double])
        #expect(issues == [7, 3], "row 7 (P(given) 0.03) before row 3 (0.1)")
        #expect(scores.count == 10 && scores[3] == 0.1)
        #expect(object["rows"] as? Int == 10)
    }

    @Test("DetectionScore counts precision and recall")
    func detectionScore() {
        let s = DetectionScore(flagged: [1, 2, 3, 4], actual: [2, 4, 6])
        #expect(s.truePositives == 2 && s.precision == 0.5 && abs(s.recall - 2.0 / 3) < 1e-12)
    }
}
