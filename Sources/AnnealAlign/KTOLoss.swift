// KTO (Ethayarajh et al. 2024, TRL's KTOTrainer): a loss on unpaired
// completions labelled desirable or undesirable, anchored by a batch KL estimate.

import Anneal

/// What `KTOLoss` returns for one batch.
public struct KTOLossResult {
    /// mean over all examples of the per-example losses (a scalar that requires grad).
    public let loss: Tensor
    /// Per-example losses [N], in input order.
    public let losses: Tensor
    /// The KL estimate max(0, mean(kl_logps − ref_kl_logps)) (a constant).
    public let kl: Float
    /// β·(π − ref) per example (detached, [N]).
    public let rewards: Tensor
}

/// KTO's loss. With r = π − ref (sequence log-probs of each example's
/// completion) and KL = max(0, mean(π_KL − ref_KL)) over the batch's
/// mismatched prompt/completion pairs, treated as a constant (no gradient):
///
///     desirable:   w_D · (1 − σ(β(r − KL)))
///     undesirable: w_U · (1 − σ(β(KL − r)))
///
/// and the loss is the mean over all N examples.
public struct KTOLoss: Sendable {
    /// β.
    public var beta: Float
    /// w_D, the weight of desirable examples.
    public var desirableWeight: Float
    /// w_U, the weight of undesirable examples.
    public var undesirableWeight: Float

    /// A KTO loss (TRL defaults: β = 0.1, both weights 1).
    public init(beta: Float = 0.1, desirableWeight: Float = 1, undesirableWeight: Float = 1) {
        self.beta = beta; self.desirableWeight = desirableWeight; self.undesirableWeight = undesirableWeight
    }

    /// The loss of N examples: `logps`, `referenceLogps` [N], `desirable` N labels,
    /// `klLogps`, `referenceKLLogps` [M] (policy and reference log-probs of
    /// mismatched completions).
    public func callAsFunction(logps: Tensor, referenceLogps: Tensor, desirable: [Bool],
                               klLogps: Tensor, referenceKLLogps: Tensor) -> KTOLossResult {
        require(logps.shape == referenceLogps.shape && logps.rank == 1 && logps.count == desirable.count,
                "KTO: logps \(logps.shape), reference \(referenceLogps.shape), \(desirable.count) labels")
        require(klLogps.shape == referenceKLLogps.shape, "KTO: KL logps \(klLogps.shape) vs reference \(referenceKLLogps.shape)")
        let kl = Swift.max(0, Runtime.withNoGrad { (klLogps.detached() - referenceKLLogps.detached()).mean().item() })
        // sign s = +1 (desirable) / −1 (undesirable): loss = w · (1 − σ(s·β·(r − KL))).
        let signedBeta = Tensor(desirable.map { $0 ? beta : -beta })
        let weight = Tensor(desirable.map { $0 ? desirableWeight : undesirableWeight })
        let r = logps - referenceLogps
        let losses = weight * (1 - ((r - kl) * signedBeta).sigmoid())
        let rewards = Runtime.withNoGrad { r.detached() * beta }
        return KTOLossResult(loss: losses.mean(), losses: losses, kl: kl, rewards: rewards)
    }
}
