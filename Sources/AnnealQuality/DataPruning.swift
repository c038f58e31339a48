// Data pruning by example difficulty: EL2N (Paul et al. 2021, "Deep Learning
// on a Data Diet") or loss scores from short training runs averaged over
// seeds, keeping the hardest fraction, compared with random pruning.

import Anneal
import AnnealData
import Foundation

/// How examples are scored for pruning (higher = harder = kept first).
public enum PruningScore: String, Sendable, CaseIterable {
    /// EL2N: ‖softmax(f(x)) − onehot(y)‖₂ early in training.
    case el2n
    /// Cross-entropy −ln p_y early in training.
    case loss
    /// A uniform random number (random pruning).
    case random
}

/// Settings of a pruning run.
public struct PruningConfig: Sendable, Equatable {
    /// Epochs of each scoring run ("early in training").
    public var scoreEpochs: Int
    /// Independent scoring runs (different initialisations and batch orders) averaged per example.
    public var scoreRuns: Int
    /// The classifier trained on the kept rows (and, for `scoreEpochs` epochs, to score).
    public var model: MLPClassifierConfig

    /// Defaults: 4 scoring runs of 3 epochs each; the default MLP.
    public init(scoreEpochs: Int = 3, scoreRuns: Int = 4, model: MLPClassifierConfig = .init()) {
        self.scoreEpochs = scoreEpochs
        self.scoreRuns = scoreRuns
        self.model = model
    }
}

/// Test accuracy of training on a pruned training set.
public struct PruningOutcome: Sendable {
    /// The score that chose the kept rows.
    public var score: PruningScore
    /// Fraction of training rows kept.
    public var keep: Double
    /// Rows kept.
    public var keptRows: Int
    /// Test accuracy per seed.
    public var accuracies: [Double]
    /// Mean test accuracy over seeds.
    public var mean: Double { accuracies.reduce(0, +) / Double(max(accuracies.count, 1)) }
    /// Sample standard deviation over seeds (0 for one seed).
    public var standardDeviation: Double {
        guard accuracies.count > 1 else { return 0 }
        let m = mean
        return (accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(accuracies.count - 1)).squareRoot()
    }
}

/// Example scores for data pruning and the pruning experiment.
public enum DataPruning {
    /// EL2N_i = ‖p_i − e_{y_i}‖₂ = √(Σ_k p_ik² − 2p_{i,y_i} + 1) for
    /// probabilities p [N, C] and labels y; in [0, √2].
    public static func el2n(probabilities p: Tensor, labels: [Int]) -> [Double] {
        perRow(p, labels) { row, y in
            var s = 0.0
            for (k, v) in row.enumerated() { let e = Double(v) - (k == y ? 1 : 0); s += e * e }
            return s.squareRoot()
        }
    }

    /// Cross-entropy −ln max(p_{i,y_i}, 1e-12) for probabilities p [N, C].
    public static func loss(probabilities p: Tensor, labels: [Int]) -> [Double] {
        perRow(p, labels) { row, y in -Foundation.log(max(Double(row[y]), 1e-12)) }
    }

    static func perRow(_ p: Tensor, _ labels: [Int], _ f: (UnsafeBufferPointer<Float>, Int) -> Double) -> [Double] {
        require(p.rank == 2 && p.shape[0] == labels.count, "pruning scores: probabilities \(p.shape) for \(labels.count) labels")
        let c = p.shape[1]
        return p.withUnsafeBufferPointer { buffer in
            labels.enumerated().map { i, y in f(UnsafeBufferPointer(rebasing: buffer[i * c ..< (i + 1) * c]), y) }
        }
    }

    /// Per-example scores on row-major features [N, F]: for EL2N and loss, the
    /// mean over `config.scoreRuns` runs (seeds derived from `seed`) of the
    /// score of a fresh MLP trained `config.scoreEpochs` epochs on all rows;
    /// for random, U(0, 1) draws from `DataRNG(seed)`.
    public static func scores(_ score: PruningScore, features: [Float], featureCount: Int, labels: [Int],
                              classCount: Int, config: PruningConfig = .init(), seed: UInt64) throws -> [Double] {
        if score == .random {
            var rng = DataRNG(seed: seed)
            return labels.map { _ in rng.nextUnit() }
        }
        var model = config.model
        model.epochs = config.scoreEpochs
        var total = [Double](repeating: 0, count: labels.count)
        for run in 0..<max(config.scoreRuns, 1) {
            let classifier = try MLPClassifier.train(features: features, featureCount: featureCount, labels: labels,
                                                     classCount: classCount, config: model,
                                                     seed: seed &* 1_000_003 &+ UInt64(run))
            let p = classifier.probabilities(features)
            let s = score == .el2n ? el2n(probabilities: p, labels: labels) : loss(probabilities: p, labels: labels)
            for i in s.indices { total[i] += s[i] }
        }
        return total.map { $0 / Double(max(config.scoreRuns, 1)) }
    }

    /// The round(fraction·N) rows (at least 1) with the highest scores —
    /// equal scores by ascending index — returned in ascending row order.
    public static func keepHardest(_ scores: [Double], fraction: Double) -> [Int] {
        precondition(fraction > 0 && fraction <= 1, "keep fraction must be in (0, 1]")
        let count = min(scores.count, max(1, Int((fraction * Double(scores.count)).rounded())))
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return order.prefix(count).sorted()
    }

    /// Trains on the training rows kept by `score` at each fraction in `keep`
    /// and reports test accuracy per seed: for seed s, scores come from
    /// `scores(score, …, seed: s)` (so random pruning draws a new subset per
    /// seed) and the final MLP is trained with seed s.
    public static func experiment(train: (features: [Float], labels: [Int]), test: (features: [Float], labels: [Int]),
                                  featureCount: Int, classCount: Int, score: PruningScore, keep: [Double],
                                  seeds: [UInt64], config: PruningConfig = .init(),
                                  progress: ((String) -> Void)? = nil) throws -> [PruningOutcome] {
        var outcomes = keep.map { PruningOutcome(score: score, keep: $0, keptRows: 0, accuracies: []) }
        for seed in seeds {
            let s = try scores(score, features: train.features, featureCount: featureCount, labels: train.labels,
                               classCount: classCount, config: config, seed: seed)
            for (f, fraction) in keep.enumerated() {
                let kept = keepHardest(s, fraction: fraction)
                let classifier = try MLPClassifier.train(
                    features: gatherRows(train.features, featureCount: featureCount, kept), featureCount: featureCount,
                    labels: kept.map { train.labels[$0] }, classCount: classCount, config: config.model, seed: seed)
                let accuracy = classifier.accuracy(test.features, labels: test.labels)
                outcomes[f].keptRows = kept.count
                outcomes[f].accuracies.append(accuracy)
                progress?("\(score.rawValue) keep \(fixed(fraction, 2)) seed \(seed): test accuracy \(fixed(accuracy, 4))")
            }
        }
        return outcomes
    }
}
