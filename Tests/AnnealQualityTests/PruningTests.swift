// EL2N and loss scores on hand-computed examples, keep-hardest selection,
// score averaging over runs, and label flipping.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation
import Testing
import _TestSupport
import AnnealQuality

@Suite("Data pruning")
struct PruningTests {
    @Test("EL2N and loss on a tiny example")
    func el2nMath() {
        let p = Tensor(shape: [3, 3], [0.7, 0.2, 0.1,
                                       0.1, 0.1, 0.8,
                                       0, 1, 0])
        let labels = [0, 0, 1]
        let e = DataPruning.el2n(probabilities: p, labels: labels)
        // ‖(−0.3, 0.2, 0.1)‖ = √0.14; ‖(−0.9, 0.1, 0.8)‖ = √1.46; a perfect prediction scores 0.
        #expect(abs(e[0] - 0.14.squareRoot()) < 1e-7)
        #expect(abs(e[1] - 1.46.squareRoot()) < 1e-7)
        #expect(e[2] == 0)
        let l = DataPruning.loss(probabilities: p, labels: labels)
        #expect(abs(l[0] + log(0.7)) < 1e-6 && abs(l[1] + log(0.1)) < 1e-6 && l[2] == 0)
    }

    @Test("EL2N of a fixed linear model equals ‖softmax(Wx + b) − onehot‖")
    func el2nOfModel() throws {
        let model = MLPClassifier.network(featureCount: 2, hiddenSizes: [], classCount: 2, seed: 0)
        let layer = try #require(model.layers.first as? Linear)
        layer.weight.assign(Tensor(shape: [2, 2], [1, 0, 0, 1]))
        layer.bias!.assign(Tensor([0, 0]))
        let x = Tensor(shape: [2, 2], [2, 0, 0, 0])
        let p = Fit.probabilities(model, x: x)
        let e = DataPruning.el2n(probabilities: p, labels: [1, 0])
        // Row 0: logits (2, 0) → p = (σ(2), 1 − σ(2)), label 1: error (σ(2), −σ(2)) → √2·σ(2).
        let s = 1 / (1 + exp(-2.0))
        #expect(abs(e[0] - 2.0.squareRoot() * s) < 1e-6)
        // Row 1: logits (0, 0) → (½, ½), label 0: √(¼ + ¼).
        #expect(abs(e[1] - 0.5.squareRoot()) < 1e-6)
    }

    @Test("scores average the runs; random scores are seeded uniforms")
    func scoreAveraging() throws {
        let (x, y) = randomData(rows: 40, features: 3, classes: 3, seed: 2)
        let config = PruningConfig(scoreEpochs: 2, scoreRuns: 2, model: MLPClassifierConfig(hiddenSizes: [8], batchSize: 8))
        let averaged = try DataPruning.scores(.el2n, features: x, featureCount: 3, labels: y, classCount: 3, config: config, seed: 7)
        var model = config.model
        model.epochs = 2
        let runs = try (0..<2).map { run in
            let c = try MLPClassifier.train(features: x, featureCount: 3, labels: y, classCount: 3, config: model,
                                            seed: 7 &* 1_000_003 &+ UInt64(run))
            return DataPruning.el2n(probabilities: c.probabilities(x), labels: y)
        }
        #expect(runs[0] != runs[1], "the two runs differ")
        for i in y.indices {
            #expect(abs(averaged[i] - (runs[0][i] + runs[1][i]) / 2) < 1e-12)
            #expect((0...2.0.squareRoot()).contains(averaged[i]))
        }
        let r1 = try DataPruning.scores(.random, features: x, featureCount: 3, labels: y, classCount: 3, seed: 1)
        #expect(r1 == (try DataPruning.scores(.random, features: x, featureCount: 3, labels: y, classCount: 3, seed: 1)))
        #expect(r1 != (try DataPruning.scores(.random, features: x, featureCount: 3, labels: y, classCount: 3, seed: 2)))
    }

    @Test("keepHardest keeps the top fraction by score, ties by index")
    func keepHardest() {
        let scores = [0.1, 0.9, 0.5, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6]
        #expect(DataPruning.keepHardest(scores, fraction: 0.3) == [1, 3, 7])
        #expect(DataPruning.keepHardest(scores, fraction: 0.5) == [1, 3, 5, 7, 9])
        #expect(DataPruning.keepHardest([0.5, 0.5, 0.5], fraction: 0.34) == [0])
        #expect(DataPruning.keepHardest(scores, fraction: 1) == Array(0..<10))
    }

    @Test("a pruning experiment trains on the kept rows and reports test accuracy")
    func experiment() throws {
        let digits = try loadDigits()
        let (train, test) = digits.subset(Array(0..<600)).split(validationFraction: 1.0 / 3, seed: 1)
        let config = PruningConfig(scoreEpochs: 4, scoreRuns: 1, model: MLPClassifierConfig(epochs: 30))
        let outcomes = try DataPruning.experiment(train: (train.features, train.labels), test: (test.features, test.labels),
                                                  featureCount: 64, classCount: 10, score: .el2n, keep: [0.5, 1.0],
                                                  seeds: [1, 2], config: config)
        #expect(outcomes.map(\.keptRows) == [200, 400])
        #expect(outcomes.allSatisfy { $0.accuracies.count == 2 }, "\(outcomes.map(\.accuracies))")
        #expect(outcomes[0].mean > 0.6 && outcomes[1].mean > 0.9, "\(outcomes.map(\.accuracies))")
    }
}
