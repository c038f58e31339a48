// Out-of-sample predicted probabilities: seeded stratified k-fold splits and
// Anneal's own MLP classifier (standardised features, Adam, `Fit.train`),
// trained on each training fold and evaluated on the held-out fold.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation

// MARK: - MLP classifier

/// Hyper-parameters of the MLP classifier used for cross-validation,
/// pruning and the demos.
public struct MLPClassifierConfig: Sendable, Equatable {
    /// Widths of the hidden layers (ReLU between layers): sizes [F, h…, C].
    public var hiddenSizes: [Int]
    /// Passes over the training rows.
    public var epochs: Int
    /// Rows per Adam step.
    public var batchSize: Int
    /// Adam learning rate η.
    public var learningRate: Float
    /// Adam's L2 weight decay λ (added to the gradient, as `torch.optim.Adam`).
    public var weightDecay: Float
    /// Standardise features with the training rows' mean and std.
    public var standardize: Bool

    /// The defaults: one hidden layer of 64, 30 epochs of batch 32, Adam
    /// η = 1e-3, λ = 3e-3, standardised features.
    public init(hiddenSizes: [Int] = [64], epochs: Int = 30, batchSize: Int = 32, learningRate: Float = 1e-3,
                weightDecay: Float = 3e-3, standardize: Bool = true) {
        self.hiddenSizes = hiddenSizes
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.standardize = standardize
    }
}

/// A trained MLP classifier: `Sequential.mlp([F, hidden…, C])` plus the
/// standardiser fitted on its training rows.
public final class MLPClassifier {
    /// The network; logits = model(standardised x), shape [N, C].
    public let model: Sequential
    /// Feature standardiser fitted on the training rows (nil when disabled).
    public let standardizer: FeatureStandardizer?
    /// F, input features per row.
    public let featureCount: Int
    /// C, output classes.
    public let classCount: Int
    /// Mean training loss per epoch.
    public let losses: [Float]

    init(model: Sequential, standardizer: FeatureStandardizer?, featureCount: Int, classCount: Int, losses: [Float]) {
        self.model = model
        self.standardizer = standardizer
        self.featureCount = featureCount
        self.classCount = classCount
        self.losses = losses
    }

    /// A fresh network of sizes [F, hidden…, C] whose weights and biases are
    /// drawn U(−1/√in, 1/√in) (PyTorch's `nn.Linear` default) from its own
    /// generator seeded by `seed`, so the result does not depend on
    /// `GlobalRandom` or on other work running concurrently.
    public static func network(featureCount: Int, hiddenSizes: [Int], classCount: Int, seed: UInt64) -> Sequential {
        let model = Sequential.mlp([featureCount] + hiddenSizes + [classCount])
        var generator = RandomGenerator(seed: seed)
        for case let layer as Linear in model.layers {
            let bound = 1 / Float(layer.inputFeatures).squareRoot()
            layer.weight.assign(Tensor.uniform(layer.weight.shape, low: -bound, high: bound, generator: &generator))
            if let bias = layer.bias {
                bias.assign(Tensor.uniform(bias.shape, low: -bound, high: bound, generator: &generator))
            }
        }
        return model
    }

    /// Trains a classifier on row-major features [N, F] and labels in
    /// 0..<classCount: standardise (fitted on these rows), then `Fit.train`
    /// with Adam for `config.epochs` epochs; initialisation and batch order
    /// are fixed by `seed`.
    /// - Throws: `FitError` if the loss becomes non-finite.
    public static func train(features: [Float], featureCount: Int, labels: [Int], classCount: Int,
                             config: MLPClassifierConfig = .init(), seed: UInt64) throws -> MLPClassifier {
        require(featureCount > 0 && features.count == labels.count * featureCount,
                "MLPClassifier.train: \(features.count) feature values for \(labels.count) rows of \(featureCount)")
        let standardizer = config.standardize ? FeatureStandardizer(fitting: features, featureCount: featureCount) : nil
        let x = Tensor(shape: [labels.count, featureCount], standardizer?.transform(features) ?? features)
        let model = network(featureCount: featureCount, hiddenSizes: config.hiddenSizes, classCount: classCount, seed: seed)
        let optimizer = Adam(parameters: model.trainableParameters(), learningRate: config.learningRate,
                             weightDecay: config.weightDecay)
        let losses = try Fit.train(model, x: x, labels: labels, optimizer: optimizer, epochs: config.epochs,
                                   batchSize: config.batchSize, seed: seed &+ 0x5EED)
        return MLPClassifier(model: model, standardizer: standardizer, featureCount: featureCount,
                             classCount: classCount, losses: losses)
    }

    /// Class probabilities softmax(model(x)) for row-major features [N, F]; shape [N, C].
    public func probabilities(_ features: [Float]) -> Tensor {
        let rows = features.count / featureCount
        let x = Tensor(shape: [rows, featureCount], standardizer?.transform(features) ?? features)
        return Fit.probabilities(model, x: x)
    }

    /// Fraction of rows whose arg-max class equals the label.
    public func accuracy(_ features: [Float], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return 0 }
        let predicted = probabilities(features).argmax(axis: -1)
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}

// MARK: - Cross-validation

/// Out-of-sample probabilities and the fold each row was held out in.
public struct CrossValidatedProbabilities: Sendable {
    /// N × C; row i was predicted by the model trained on every fold except `folds[i]`.
    public var probabilities: [[Double]]
    /// The fold (0..<k) in which row i was held out.
    public var folds: [Int]
}

/// Seeded stratified k-fold cross-validation.
public enum CrossValidation {
    /// Assigns each row to one of `folds` folds so that every class is spread
    /// evenly: classes in ascending order, the rows of each class shuffled with
    /// `DataRNG(seed)` (one generator over the whole pass), then dealt
    /// round-robin with a position that carries over from class to class, so
    /// fold sizes differ by at most one and each class's count per fold by at most one.
    /// - Returns: fold[i] ∈ 0..<folds.
    /// - Throws: `LabelQualityError` when `folds` < 2 or exceeds the row count,
    ///   or for a negative label.
    public static func stratifiedFolds(labels: [Int], folds: Int, seed: UInt64) throws -> [Int] {
        guard folds >= 2 else { throw LabelQualityError("--folds must be at least 2 (got \(folds))") }
        guard folds <= labels.count else {
            throw LabelQualityError("--folds \(folds) is more than the \(labels.count) rows")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 }) {
            throw LabelQualityError("label row \(bad): negative label \(labels[bad])", row: bad)
        }
        var byClass = [[Int]](repeating: [], count: (labels.max() ?? -1) + 1)
        for (i, l) in labels.enumerated() { byClass[l].append(i) }
        var rng = DataRNG(seed: seed)
        var assignment = [Int](repeating: 0, count: labels.count)
        var position = 0
        for var rows in byClass {
            rng.shuffle(&rows)
            for i in rows {
                assignment[i] = position % folds
                position += 1
            }
        }
        return assignment
    }

    /// Out-of-sample probabilities by k-fold cross-validation with any model:
    /// for each fold f, `fitPredict(training, heldOut, f)` must train on the
    /// rows `training` (every row not in fold f) and return one probability
    /// row per `heldOut` row, in that order.
    /// - Throws: what `fitPredict` throws; `LabelQualityError` for a bad fold
    ///   count or a returned matrix of the wrong shape.
    public static func outOfSampleProbabilities(
        labels: [Int], classCount: Int, folds: Int, seed: UInt64,
        fitPredict: (_ training: [Int], _ heldOut: [Int], _ fold: Int) throws -> [[Double]]
    ) throws -> CrossValidatedProbabilities {
        let assignment = try stratifiedFolds(labels: labels, folds: folds, seed: seed)
        var probabilities = [[Double]](repeating: [], count: labels.count)
        for f in 0..<folds {
            let heldOut = labels.indices.filter { assignment[$0] == f }
            let training = labels.indices.filter { assignment[$0] != f }
            let p = try fitPredict(training, heldOut, f)
            guard p.count == heldOut.count, p.allSatisfy({ $0.count == classCount }) else {
                throw LabelQualityError("fold \(f): the model returned \(p.count) probability rows for \(heldOut.count) held-out rows (need \(classCount) columns each)")
            }
            for (row, i) in heldOut.enumerated() { probabilities[i] = p[row] }
        }
        return CrossValidatedProbabilities(probabilities: probabilities, folds: assignment)
    }

    /// Out-of-sample probabilities from Anneal's MLP: for each fold,
    /// `ensemble` fresh `MLPClassifier`s (seeds `seed + 1000·m + fold`) are
    /// trained on the other folds and their probabilities for the held-out
    /// rows are averaged.
    /// - Parameters:
    ///   - features: row-major [N, F].
    ///   - onFold: called after each fold with (fold, held-out accuracy against the given labels).
    public static func outOfSampleProbabilities(
        features: [Float], featureCount: Int, labels: [Int], classCount: Int, folds: Int = 5, seed: UInt64,
        config: MLPClassifierConfig = .init(), ensemble: Int = 1, onFold: ((Int, Double) -> Void)? = nil
    ) throws -> CrossValidatedProbabilities {
        try outOfSampleProbabilities(labels: labels, classCount: classCount, folds: folds, seed: seed) { training, heldOut, f in
            let trainingFeatures = gatherRows(features, featureCount: featureCount, training)
            let heldOutFeatures = gatherRows(features, featureCount: featureCount, heldOut)
            var p = Tensor.zeros([heldOut.count, classCount])
            for m in 0..<max(ensemble, 1) {
                let classifier = try MLPClassifier.train(
                    features: trainingFeatures, featureCount: featureCount, labels: training.map { labels[$0] },
                    classCount: classCount, config: config, seed: seed &+ 1000 &* UInt64(m) &+ UInt64(f))
                p = p + classifier.probabilities(heldOutFeatures)
            }
            let rows = probabilityRows(p)
            if let onFold {
                let predicted = p.argmax(axis: -1)
                let hits = heldOut.indices.filter { predicted[$0] == labels[heldOut[$0]] }.count
                onFold(f, Double(hits) / Double(max(heldOut.count, 1)))
            }
            return rows
        }
    }

    /// A [N, C] Float tensor of probabilities as N Double rows, each divided by
    /// its sum (removing Float rounding so rows sum to 1 in Double).
    public static func probabilityRows(_ p: Tensor) -> [[Double]] {
        let c = p.shape[1]
        return p.withUnsafeBufferPointer { buffer in
            (0..<p.shape[0]).map { r in
                var row = (0..<c).map { Double(buffer[r * c + $0]) }
                let s = row.reduce(0, +)
                if s > 0 { for j in 0..<c { row[j] /= s } }
                return row
            }
        }
    }
}
