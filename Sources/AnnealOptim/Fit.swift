// A small supervised training loop for classifiers over in-memory features:
// seeded shuffling, mini-batches, cross-entropy, any optimizer. Used by the
// demos, cross-validation and the CLI.

import Anneal
import AnnealNN
import Foundation

/// Mini-batch training and evaluation of a classifier on in-memory data.
public enum Fit {
    /// Rows `indices` of a row-major [N, F] matrix as a tensor [indices.count, F].
    public static func rows(_ x: Tensor, _ indices: [Int]) -> Tensor {
        let f = x.shape[1]
        var out = [Float](repeating: 0, count: indices.count * f)
        x.withUnsafeBufferPointer { src in
            for (r, i) in indices.enumerated() {
                for j in 0..<f { out[r * f + j] = src[i * f + j] }
            }
        }
        return Tensor(shape: [indices.count, f], out)
    }

    /// Trains `model` on features x [N, F] with class labels for `epochs`
    /// epochs of shuffled mini-batches (order fixed by `seed`), stepping
    /// `optimizer` once per batch. Returns the mean training loss per epoch.
    /// Stops with `FitError.nonFinite` naming the epoch and step on a NaN/Inf loss.
    @discardableResult
    public static func train(_ model: some UnaryLayer, x: Tensor, labels: [Int], optimizer: Optimizer,
                             epochs: Int, batchSize: Int, seed: UInt64,
                             schedule: LearningRateSchedule? = nil,
                             onEpoch: ((Int, Float) -> Void)? = nil) throws -> [Float] {
        require(x.rank == 2 && x.shape[0] == labels.count, "Fit.train: features \(x.shape) vs \(labels.count) labels")
        model.train()
        var rng = RandomGenerator(seed: seed)
        var losses: [Float] = []
        var step = 0
        for epoch in 0..<epochs {
            let order = rng.permutation(labels.count)
            var total: Float = 0, batches = 0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let idx = Array(order[start..<min(start + batchSize, order.count)])
                if let schedule { optimizer.setLearningRate(schedule.rate(at: step)) }
                optimizer.zeroGrad()
                let loss = Tensor.crossEntropy(model(rows(x, idx)), targets: idx.map { labels[$0] })
                let value = loss.item()
                guard value.isFinite else { throw FitError.nonFinite(epoch: epoch, step: step, loss: value) }
                loss.backward()
                optimizer.step()
                total += value; batches += 1; step += 1
            }
            losses.append(total / Float(max(batches, 1)))
            onEpoch?(epoch, losses.last!)
        }
        return losses
    }

    /// Class probabilities softmax(model(x)) [N, C] in evaluation mode, without a graph.
    public static func probabilities(_ model: some UnaryLayer, x: Tensor, batchSize: Int = 1024) -> Tensor {
        model.eval()
        defer { model.train() }
        return Runtime.withNoGrad {
            var parts: [Tensor] = []
            for start in stride(from: 0, to: x.shape[0], by: batchSize) {
                let idx = Array(start..<min(start + batchSize, x.shape[0]))
                parts.append(model(rows(x, idx)).softmax(axis: -1))
            }
            return Tensor.concat(parts, axis: 0)
        }
    }

    /// Fraction of rows whose arg-max prediction equals the label.
    public static func accuracy(_ model: some UnaryLayer, x: Tensor, labels: [Int]) -> Float {
        let predicted = probabilities(model, x: x).argmax(axis: -1)
        return Float(zip(predicted, labels).filter { $0 == $1 }.count) / Float(max(labels.count, 1))
    }
}

/// Training stopped on bad numbers.
public enum FitError: Error, CustomStringConvertible {
    case nonFinite(epoch: Int, step: Int, loss: Float)
    public var description: String {
        switch self {
        case let .nonFinite(epoch, step, loss): "loss became \(loss) at step \(step) (epoch \(epoch + 1)); training stopped"
        }
    }
}
