// Reward models (a backbone plus a scalar head) and their trainer with the
// Bradley–Terry loss, as TRL's RewardTrainer: metrics accuracy, margin and
// min/mean/max reward.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// A network that maps each row of a sequence batch to one feature vector.
public protocol RewardBackbone: Module {
    /// Width C of the features.
    var featureSize: Int { get }
    /// Globs of parameters the features never use (the reward model freezes them).
    var parametersUnusedByFeatures: [String] { get }
    /// Features [S, C] of the batch's S rows.
    func features(_ batch: SequenceBatch) -> Tensor
}

extension GPT: RewardBackbone {
    /// The model width.
    public var featureSize: Int { config.dimensions }
    /// The LM head (unless tied to the token embedding, which features use).
    public var parametersUnusedByFeatures: [String] { config.tiedEmbeddings ? [] : ["head.weight"] }

    /// The final hidden state (after `lnf`) at each row's last non-padding
    /// token, [S, C]: the GPT reward-model convention (the last token has seen
    /// the whole sequence under the causal mask).
    public func features(_ batch: SequenceBatch) -> Tensor {
        let h = hidden(batch.ids, batch: batch.rows)   // [S, T, C]
        let last = batch.tokenCounts.enumerated().map { $0.offset * batch.length + $0.element - 1 }
        // A row gather with a scatter-add pullback (the embedding op on [S·T, C]).
        return Tensor.embedding(last, shape: [batch.rows], weight: h.reshaped([batch.rows * batch.length, featureSize]))
    }
}

/// A reward model r(x) = head(features(x)): a backbone and Linear(C, 1).
public final class RewardModel: Module, @unchecked Sendable {
    /// The feature extractor (its unused parameters are frozen).
    public let backbone: any RewardBackbone
    /// The scalar head, Linear(C, 1) with bias.
    public let head: Linear

    /// Wraps `backbone`; freezes the parameters its features do not use.
    public init(backbone: any RewardBackbone) {
        self.backbone = backbone
        head = Linear(backbone.featureSize, 1)
        backbone.freeze(backbone.parametersUnusedByFeatures)
        super.init()
    }

    /// `backbone.*` and `head.*`.
    public override func children() -> [(String, Any)] { [("backbone", backbone), ("head", head)] }

    /// Rewards [S] of the batch's rows.
    public func callAsFunction(_ batch: SequenceBatch) -> Tensor {
        head(backbone.features(batch)).reshaped([batch.rows])
    }

    /// Rewards of pairs: one batch of 2B rows (chosen, then rejected), split.
    public func rewards(_ pairs: [TokenizedPair]) -> (chosen: Tensor, rejected: Tensor) {
        let r = self(SequenceBatch(pairs.map(\.chosenSequence) + pairs.map(\.rejectedSequence)))
        let parts = r.split([pairs.count, pairs.count])
        return (parts[0], parts[1])
    }
}

/// Reward-model metrics over a batch or a data set (TRL's names in `entries`).
public struct RewardMetrics: Sendable {
    /// The optimizer step (0 for an evaluation before training).
    public var step: Int
    /// The Bradley–Terry loss.
    public var loss: Float
    /// Fraction of pairs ranked correctly (r_c > r_r).
    public var accuracy: Float
    /// mean(r_c − r_r).
    public var margin: Float
    /// Smallest, mean and largest reward over both completions of every pair.
    public var minReward: Float, meanReward: Float, maxReward: Float

    /// (name, value) in log order: loss, accuracy, margin, min_reward, mean_reward, max_reward.
    public var entries: [(String, Double)] {
        [("loss", Double(loss)), ("accuracy", Double(accuracy)), ("margin", Double(margin)),
         ("min_reward", Double(minReward)), ("mean_reward", Double(meanReward)), ("max_reward", Double(maxReward))]
    }

    /// One JSON object: {"step": n, "loss": …, …}.
    public var jsonLine: String { MetricsLine.json(step: step, entries) }
}

/// Trains a reward model with the Bradley–Terry loss (optionally with each
/// pair's margin and reward centering).
public final class RewardTrainer {
    /// The model being trained.
    public let model: RewardModel
    /// The loss.
    public var loss: BradleyTerryLoss
    /// Subtract each pair's `margin` inside the sigmoid.
    public var useMargins: Bool
    /// The optimizer over the model's trainable parameters.
    public let optimizer: any Optimizer
    /// Steps taken.
    public private(set) var stepCount = 0

    /// A trainer.
    public init(model: RewardModel, loss: BradleyTerryLoss = BradleyTerryLoss(), useMargins: Bool = false, optimizer: any Optimizer) {
        self.model = model; self.loss = loss; self.useMargins = useMargins; self.optimizer = optimizer
    }

    /// One optimizer step on `pairs`; returns the batch's metrics.
    /// - Throws: `TrainingDiverged` (naming the step) if the loss or a reward
    ///   is not finite; the step is then not applied.
    public func step(_ pairs: [TokenizedPair]) throws -> RewardMetrics {
        if !model.isTraining { model.train() }
        optimizer.zeroGrad()
        let (c, r) = model.rewards(pairs)
        let result = loss(chosen: c, rejected: r, margin: useMargins ? Tensor(pairs.map(\.margin)) : nil)
        let metrics = Self.metrics(step: stepCount + 1, result: result, chosen: c.scalars, rejected: r.scalars)
        try TrainingDiverged.check(step: stepCount + 1, ("loss", metrics.loss), ("reward", metrics.minReward), ("reward", metrics.maxReward))
        result.loss.backward()
        optimizer.step()
        stepCount += 1
        return metrics
    }

    /// Metrics of the current model over `pairs` (no gradients; in batches).
    public func evaluate(_ pairs: [TokenizedPair], batchSize: Int = 32) -> RewardMetrics {
        model.eval()
        defer { model.train() }
        var chosen: [Float] = [], rejected: [Float] = []
        Runtime.withNoGrad {
            for start in stride(from: 0, to: pairs.count, by: batchSize) {
                let (c, r) = model.rewards(Array(pairs[start..<Swift.min(start + batchSize, pairs.count)]))
                chosen += c.scalars; rejected += r.scalars
            }
        }
        let result = Runtime.withNoGrad {
            loss(chosen: Tensor(chosen), rejected: Tensor(rejected), margin: useMargins ? Tensor(pairs.map(\.margin)) : nil)
        }
        return Self.metrics(step: stepCount, result: result, chosen: chosen, rejected: rejected)
    }

    static func metrics(step: Int, result: BradleyTerryResult, chosen: [Float], rejected: [Float]) -> RewardMetrics {
        let all = chosen + rejected
        let mean = all.reduce(0, +) / Float(Swift.max(all.count, 1))
        return RewardMetrics(step: step, loss: result.loss.item(), accuracy: result.accuracy, margin: result.margin,
                             minReward: all.min() ?? .nan, meanReward: mean, maxReward: all.max() ?? .nan)
    }
}

/// Training stopped because a logged quantity is NaN or infinite.
public struct TrainingDiverged: Error, CustomStringConvertible, Sendable {
    /// The 1-based optimizer step whose forward pass produced it.
    public let step: Int
    /// What is not finite ("loss", "reward", "rewards/chosen", …).
    public let quantity: String
    /// Its value.
    public let value: Float

    /// "step 12: loss is nan; training stopped before this step's update".
    public var description: String {
        "step \(step): \(quantity) is \(value); training stopped before this step's update (lower the learning rate or check the data)"
    }

    /// Throws for the first non-finite (name, value).
    static func check(step: Int, _ values: (String, Float)...) throws {
        for (name, v) in values where !v.isFinite { throw TrainingDiverged(step: step, quantity: name, value: v) }
    }
}

/// Formats metric lines as JSON objects with keys in a fixed order.
enum MetricsLine {
    static func json(step: Int, _ entries: [(String, Double)]) -> String {
        let fields = entries.map { name, v in
            "\"\(name)\": " + (v.isFinite ? String(format: "%.8g", v) : "\"\(v)\"")
        }
        return "{\"step\": \(step), " + fields.joined(separator: ", ") + "}"
    }
}
