// The DPO trainer: a causal-LM policy, a reference (a frozen copy run
// without gradients, or log-probs cached once), any pairwise preference loss
// or KTO, and TRL's per-step metrics. Training stops on a non-finite loss.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// Where reference log-probs come from.
public enum ReferenceSource {
    /// A frozen copy of the reference model, run under no-grad every step
    /// (`GPT.frozenCopy()` of the initial policy).
    case frozenCopy(GPT)
    /// Log-probs computed once for the whole data set (no model in memory).
    case cached(ReferenceLogProbs)
    /// No reference (reference-free losses: simpo, orpo_or).
    case none
}

/// What the trainer minimises.
public enum AlignmentObjective: Sendable {
    /// A (weighted sum of) pairwise loss(es) on preference pairs.
    case pairwise(PreferenceLoss)
    /// KTO on unpaired examples.
    case kto(KTOLoss)
}

/// One step's metrics under TRL's names (`entries`): rewards/chosen,
/// rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen,
/// logps/rejected (means over the batch), plus kl for KTO.
public struct DPOMetrics: Sendable {
    /// The 1-based optimizer step.
    public var step: Int
    /// The loss.
    public var loss: Float
    /// Mean implicit reward of chosen (KTO: desirable) completions.
    public var rewardsChosen: Float
    /// Mean implicit reward of rejected (KTO: undesirable) completions.
    public var rewardsRejected: Float
    /// Fraction of pairs whose chosen reward exceeds the rejected one (pairs only).
    public var rewardsAccuracy: Float?
    /// Mean of chosen − rejected rewards (KTO: difference of the means).
    public var rewardsMargin: Float
    /// Mean policy log-prob of chosen (desirable) completions.
    public var logpsChosen: Float
    /// Mean policy log-prob of rejected (undesirable) completions.
    public var logpsRejected: Float
    /// KTO's KL estimate.
    public var kl: Float?

    /// (TRL name, value) in log order.
    public var entries: [(String, Double)] {
        var e: [(String, Double)] = [("loss", Double(loss)), ("rewards/chosen", Double(rewardsChosen)),
                                     ("rewards/rejected", Double(rewardsRejected))]
        if let rewardsAccuracy { e.append(("rewards/accuracies", Double(rewardsAccuracy))) }
        e += [("rewards/margins", Double(rewardsMargin)), ("logps/chosen", Double(logpsChosen)),
              ("logps/rejected", Double(logpsRejected))]
        if let kl { e.append(("kl", Double(kl))) }
        return e
    }

    /// One JSON object: {"step": n, "loss": …, "rewards/chosen": …, …}.
    public var jsonLine: String { MetricsLine.json(step: step, entries) }
}

/// Trains a GPT policy on preference data.
///
/// Each step stacks the batch's sequences into one forward pass (pairs:
/// chosen rows then rejected rows; KTO: the completions, and the mismatched
/// KL completions in a second pass without gradients), sums log-probs over
/// completion tokens, takes reference log-probs from the `ReferenceSource`,
/// evaluates the objective, checks it is finite, and applies one optimizer step.
public final class DPOTrainer {
    /// The model being trained.
    public let policy: GPT
    /// The training examples.
    public let examples: PreferenceExamples
    /// The loss.
    public let objective: AlignmentObjective
    /// The reference log-probs' source.
    public let reference: ReferenceSource
    /// The optimizer over the policy's trainable parameters.
    public let optimizer: any Optimizer
    /// Steps taken.
    public private(set) var stepCount = 0

    /// A trainer. Traps on inconsistent arguments (pairs with KTO, a missing
    /// reference for a loss that needs one, a cache of another size).
    public init(policy: GPT, examples: PreferenceExamples, objective: AlignmentObjective, reference: ReferenceSource,
                optimizer: any Optimizer) {
        switch (objective, examples) {
        case (.pairwise, .paired), (.kto, .unpaired): break
        default: fatalError("DPOTrainer: pairwise losses need paired examples and KTO unpaired ones")
        }
        switch reference {
        case .none:
            if case .pairwise(let l) = objective, l.isReferenceFree { break }
            fatalError("DPOTrainer: this objective needs reference log-probs")
        case .cached(let c): require(c.first.count == examples.count, "reference cache of \(c.first.count) for \(examples.count) examples")
        case .frozenCopy: break
        }
        self.policy = policy; self.examples = examples; self.objective = objective
        self.reference = reference; self.optimizer = optimizer
    }

    /// Reference log-probs of examples `indices` (first, second sequences), or nil without a reference.
    func referenceLogProbs(_ indices: [Int], batch: SequenceBatch?) -> (Tensor, Tensor)? {
        switch reference {
        case .none: return nil
        case .cached(let c): return c.select(indices)
        case .frozenCopy(let model):
            let lp = Runtime.withNoGrad { model.sequenceLogProbs(batch ?? examples.batch(indices)) }
            let parts = lp.split([indices.count, indices.count])
            return (parts[0], parts[1])
        }
    }

    /// One optimizer step on examples `indices`.
    /// - Throws: `TrainingDiverged` naming the step when the loss or the
    ///   rewards are NaN or infinite (the update is not applied).
    @discardableResult
    public func step(_ indices: [Int]) throws -> DPOMetrics {
        let step = stepCount + 1
        if !policy.isTraining { policy.train() }
        optimizer.zeroGrad()
        let metrics: DPOMetrics, loss: Tensor
        switch objective {
        case .pairwise(let l): (loss, metrics) = pairwiseStep(l, indices, step: step)
        case .kto(let l): (loss, metrics) = ktoStep(l, indices, step: step)
        }
        try TrainingDiverged.check(step: step, ("loss", metrics.loss), ("rewards/chosen", metrics.rewardsChosen),
                                   ("rewards/rejected", metrics.rewardsRejected))
        loss.backward()
        optimizer.step()
        stepCount = step
        return metrics
    }

    func pairwiseStep(_ loss: PreferenceLoss, _ indices: [Int], step: Int) -> (Tensor, DPOMetrics) {
        let b = indices.count
        let batch = examples.batch(indices)
        let logps = policy.sequenceLogProbs(batch).split([b, b])
        let ref = referenceLogProbs(indices, batch: batch)
        let lengths = Tensor(batch.scoredCounts.map(Float.init)).split([b, b])
        let result = loss(PairLogProbs(chosen: logps[0], rejected: logps[1], referenceChosen: ref?.0, referenceRejected: ref?.1,
                                       chosenLengths: lengths[0], rejectedLengths: lengths[1]))
        let rc = result.chosenRewards.scalars, rr = result.rejectedRewards.scalars
        let margins = zip(rc, rr).map { $0 - $1 }
        let metrics = DPOMetrics(step: step, loss: result.loss.item(), rewardsChosen: mean(rc), rewardsRejected: mean(rr),
                                 rewardsAccuracy: mean(margins.map { $0 > 0 ? 1 : 0 }), rewardsMargin: mean(margins),
                                 logpsChosen: mean(logps[0].scalars), logpsRejected: mean(logps[1].scalars), kl: nil)
        return (result.loss, metrics)
    }

    func ktoStep(_ loss: KTOLoss, _ indices: [Int], step: Int) -> (Tensor, DPOMetrics) {
        let seqs = indices.map { examples.sequences($0) }
        let logps = policy.sequenceLogProbs(SequenceBatch(seqs.map(\.0)))
        // The KL completions only feed a constant: no graph, no backward.
        let klLogps = Runtime.withNoGrad { policy.sequenceLogProbs(SequenceBatch(seqs.map(\.1))) }
        let ref = referenceLogProbs(indices, batch: SequenceBatch(seqs.map(\.0) + seqs.map(\.1)))!
        let desirable = examples.desirable(indices)
        let result = loss(logps: logps, referenceLogps: ref.0, desirable: desirable, klLogps: klLogps, referenceKLLogps: ref.1)
        let rewards = result.rewards.scalars, lp = logps.scalars
        func meanWhere(_ xs: [Float], _ want: Bool) -> Float { mean(zip(xs, desirable).filter { $0.1 == want }.map(\.0)) }
        let rc = meanWhere(rewards, true), rr = meanWhere(rewards, false)
        let metrics = DPOMetrics(step: step, loss: result.loss.item(), rewardsChosen: rc, rewardsRejected: rr, rewardsAccuracy: nil,
                                 rewardsMargin: rc - rr, logpsChosen: meanWhere(lp, true), logpsRejected: meanWhere(lp, false),
                                 kl: result.kl)
        return (result.loss, metrics)
    }
}

/// Mean of a list (0 for an empty one, as a batch without e.g. undesirable examples logs 0).
func mean(_ xs: [Float]) -> Float { xs.isEmpty ? 0 : xs.reduce(0, +) / Float(xs.count) }
