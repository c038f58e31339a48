// The DPO family of pairwise preference losses (TRL 1.16's formulas, plus
// reference-free SimPO and ORPO), composed from differentiable tensor ops in
// numerically stable forms, so autograd supplies every gradient.

import Anneal
import Foundation

/// One pairwise loss type, named as TRL's `loss_type`.
///
/// With c = π_c − ref_c, r = π_r − ref_r (sequence log-probs summed over
/// completion tokens), Δ = c − r, x = βΔ, ε the label smoothing and ℓ the
/// completion lengths, the per-pair losses are:
///
/// | type | loss |
/// | --- | --- |
/// | sigmoid | −log σ(x) |
/// | cdpo | −(1−ε) log σ(x) − ε log σ(−x) |
/// | hinge | max(0, 1 − x) |
/// | ipo | (c/ℓ_c − r/ℓ_r − 1/(2β))² |
/// | robust | (−(1−ε) log σ(x) + ε log σ(−x)) / (1 − 2ε) |
/// | exo_pair | σ(x)(log σ(x) − log(1−ε)) + σ(−x)(log σ(−x) − log ε) |
/// | nca_pair | −log σ(βc) − ½ log σ(−βc) − ½ log σ(−βr) |
/// | bco_pair | −log σ(βc) − log σ(−βr) |
/// | sppo_hard | (c − 1/(2β))² + (r + 1/(2β))² |
/// | aot | d = sort(π_c − π_r) − sort(ref_c − ref_r); −(1−ε) log σ(βd) − ε log σ(−βd) |
/// | aot_unpaired | d = sort(c) − sort(r); as aot |
/// | apo_zero | 1 − σ(βc) + σ(βr) |
/// | apo_down | σ(βc) + 1 − σ(x) |
/// | discopop | −log σ(x)·σ(−x/τ) + e^(−x)·σ(x/τ) |
/// | sigmoid_norm | −log σ(β(c/ℓ_c − r/ℓ_r)) |
/// | simpo | z = β(π_c/ℓ_c − π_r/ℓ_r) − γ; −(1−ε) log σ(z) − ε log σ(−z) |
/// | orpo_or | a = π/ℓ; L = (a_c − a_r) − (log(1 − e^(a_c)) − log(1 − e^(a_r))); −β log σ(L) |
public enum PairwiseLossType: String, CaseIterable, Sendable {
    case sigmoid, cdpo, hinge, ipo, robust
    case exoPair = "exo_pair", ncaPair = "nca_pair", bcoPair = "bco_pair", sppoHard = "sppo_hard"
    case aot, aotUnpaired = "aot_unpaired", apoZero = "apo_zero", apoDown = "apo_down"
    case discopop, sigmoidNorm = "sigmoid_norm", simpo, orpoOR = "orpo_or"

    /// SimPO and ORPO's odds-ratio term use no reference model.
    public var isReferenceFree: Bool { self == .simpo || self == .orpoOR }
    /// aot and aot_unpaired pair sorted quantities across the batch, so their
    /// per-pair losses come in sorted order, not input order.
    public var sortsBatch: Bool { self == .aot || self == .aotUnpaired }
}

/// Sequence log-probs of B preference pairs, each [B]; lengths are the
/// numbers of scored completion tokens (as Float).
public struct PairLogProbs {
    /// Policy log-probs of the chosen completions (may require grad).
    public var chosen: Tensor
    /// Policy log-probs of the rejected completions.
    public var rejected: Tensor
    /// Reference log-probs (nil for reference-free losses).
    public var referenceChosen: Tensor?
    /// Reference log-probs of the rejected completions.
    public var referenceRejected: Tensor?
    /// Scored tokens per chosen completion.
    public var chosenLengths: Tensor
    /// Scored tokens per rejected completion.
    public var rejectedLengths: Tensor

    /// Bundles the log-probs; lengths default to 1 (no length normalisation).
    public init(chosen: Tensor, rejected: Tensor, referenceChosen: Tensor? = nil, referenceRejected: Tensor? = nil,
                chosenLengths: Tensor? = nil, rejectedLengths: Tensor? = nil) {
        require(chosen.shape == rejected.shape && chosen.rank == 1, "pair log-probs: chosen \(chosen.shape) vs rejected \(rejected.shape)")
        self.chosen = chosen; self.rejected = rejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
        self.chosenLengths = chosenLengths ?? Tensor.ones(chosen.shape)
        self.rejectedLengths = rejectedLengths ?? Tensor.ones(chosen.shape)
    }

    /// Number of pairs B.
    public var count: Int { chosen.count }
}

/// What `PreferenceLoss` returns for one batch.
public struct PreferenceLossResult {
    /// Σ_k w_k · mean(loss_k) (+ the chosen-NLL term), a scalar that requires grad.
    public let loss: Tensor
    /// Per-pair losses of each loss type, [B] each (sorted order for aot types).
    public let losses: [Tensor]
    /// β·(π_c − ref_c), or β·π_c/ℓ_c for reference-free losses (detached, [B]).
    public let chosenRewards: Tensor
    /// β·(π_r − ref_r), or β·π_r/ℓ_r (detached, [B]).
    public let rejectedRewards: Tensor
}

/// A (weighted sum of) pairwise preference loss(es), TRL's `loss_type` list
/// with `loss_weights`: loss = Σ_k w_k · mean_B(loss_k) + λ·NLL(chosen), where
/// NLL(chosen) = −Σ π_c / Σ ℓ_c is the chosen completions' negative log-likelihood
/// averaged per token (ORPO uses λ = 1; SimPO's optional term, default λ = 0).
public struct PreferenceLoss: Sendable {
    /// The loss types summed.
    public var types: [PairwiseLossType]
    /// One weight per type.
    public var weights: [Float]
    /// β, the inverse temperature (KL strength).
    public var beta: Float
    /// ε: label smoothing (cdpo, robust, exo_pair, aot, simpo). exo_pair with
    /// ε = 0 uses 1e-3 as TRL does (its loss needs 0 < ε < 1).
    public var labelSmoothing: Float
    /// τ of discopop (TRL default 0.05).
    public var discopopTau: Float
    /// γ, SimPO's target reward margin (TRL default 0.5).
    public var simpoGamma: Float
    /// λ, the weight of the chosen completions' per-token NLL.
    public var chosenNLLWeight: Float

    /// A loss; `weights` default to 1 each.
    public init(_ types: [PairwiseLossType], weights: [Float]? = nil, beta: Float = 0.1, labelSmoothing: Float = 0,
                discopopTau: Float = 0.05, simpoGamma: Float = 0.5, chosenNLLWeight: Float = 0) {
        require(!types.isEmpty, "a preference loss needs at least one loss type")
        require(weights == nil || weights!.count == types.count, "\(weights?.count ?? 0) loss weights for \(types.count) loss types")
        self.types = types
        self.weights = weights ?? [Float](repeating: 1, count: types.count)
        self.beta = beta; self.labelSmoothing = labelSmoothing
        self.discopopTau = discopopTau; self.simpoGamma = simpoGamma; self.chosenNLLWeight = chosenNLLWeight
    }

    /// ORPO: chosen NLL (per token) + mean(−β log σ(log-odds ratio)).
    public static func orpo(beta: Float = 0.1) -> PreferenceLoss {
        PreferenceLoss([.orpoOR], beta: beta, chosenNLLWeight: 1)
    }

    /// True when no loss term needs reference log-probs.
    public var isReferenceFree: Bool { types.allSatisfy(\.isReferenceFree) }

    /// Evaluates the loss, per-pair losses and rewards on one batch.
    public func callAsFunction(_ lp: PairLogProbs) -> PreferenceLossResult {
        let losses = types.map { perPair($0, lp) }
        var total: Tensor? = nil
        for (l, w) in zip(losses, weights) {
            let term = w == 1 ? l.mean() : l.mean() * w
            total = total.map { $0 + term } ?? term
        }
        if chosenNLLWeight != 0 {
            let nll = -lp.chosen.sum() / lp.chosenLengths.sum().item()
            total = total! + nll * chosenNLLWeight
        }
        let (rc, rr) = rewards(lp)
        return PreferenceLossResult(loss: total!, losses: losses, chosenRewards: rc, rejectedRewards: rr)
    }

    /// The implicit rewards TRL logs: β·(π − ref), or β·π/ℓ when every type is reference-free.
    public func rewards(_ lp: PairLogProbs) -> (chosen: Tensor, rejected: Tensor) {
        Runtime.withNoGrad {
            let c = lp.chosen.detached(), r = lp.rejected.detached()
            if isReferenceFree || lp.referenceChosen == nil {
                return (c / lp.chosenLengths * beta, r / lp.rejectedLengths * beta)
            }
            return ((c - lp.referenceChosen!.detached()) * beta, (r - lp.referenceRejected!.detached()) * beta)
        }
    }

    /// Per-pair losses [B] of one type (see `PairwiseLossType` for the formulas).
    public func perPair(_ type: PairwiseLossType, _ lp: PairLogProbs) -> Tensor {
        let beta = self.beta, eps = labelSmoothing
        if type.isReferenceFree {
            let ac = lp.chosen / lp.chosenLengths, ar = lp.rejected / lp.rejectedLengths
            if type == .simpo { return smoothedLogistic((ac - ar) * beta - simpoGamma, eps) }
            // ORPO's log-odds: log(p/(1−p)) with log(1 − p) = log1mexp(a), stable near a = 0.
            let logOdds = (ac - ar) - (ac.log1mexp() - ar.log1mexp())
            return logOdds.logSigmoid() * -beta
        }
        guard let refC = lp.referenceChosen, let refR = lp.referenceRejected else {
            fatalError("loss type \(type.rawValue) needs reference log-probs")
        }
        let c = lp.chosen - refC, r = lp.rejected - refR
        let x = (c - r) * beta
        switch type {
        case .sigmoid: return -x.logSigmoid()
        case .cdpo: return smoothedLogistic(x, eps)
        case .hinge: return (1 - x).relu()
        case .ipo: return (c / lp.chosenLengths - r / lp.rejectedLengths - 1 / (2 * beta)).squared()
        case .robust:
            let raw = eps == 0 ? -x.logSigmoid() : x.logSigmoid() * -(1 - eps) + (-x).logSigmoid() * eps
            return raw / (1 - 2 * eps)
        case .exoPair:
            let e = eps == 0 ? 1e-3 : eps
            let lpos = x.logSigmoid(), lneg = (-x).logSigmoid()
            return x.sigmoid() * (lpos - Foundation.log(1 - e)) + (-x).sigmoid() * (lneg - Foundation.log(e))
        case .ncaPair:
            let bc = c * beta, br = r * beta
            return -bc.logSigmoid() - (-bc).logSigmoid() * 0.5 - (-br).logSigmoid() * 0.5
        case .bcoPair: return -(c * beta).logSigmoid() - (r * -beta).logSigmoid()
        case .sppoHard:
            let h = 1 / (2 * beta)
            return (c - h).squared() + (r + h).squared()
        case .aot:
            let d = Self.sortedAscending(lp.chosen - lp.rejected) - Self.sortedAscending(refC - refR)
            return smoothedLogistic(d * beta, eps)
        case .aotUnpaired:
            return smoothedLogistic((Self.sortedAscending(c) - Self.sortedAscending(r)) * beta, eps)
        case .apoZero: return 1 - (c * beta).sigmoid() + (r * beta).sigmoid()
        case .apoDown: return (c * beta).sigmoid() + 1 - x.sigmoid()
        case .discopop:
            // e^(−x)·σ(x/τ) = exp(−x + log σ(x/τ)): finite where e^(−x) alone overflows.
            let t = x / discopopTau
            return -x.logSigmoid() * (-t).sigmoid() + (t.logSigmoid() - x).exp()
        case .sigmoidNorm:
            return -((c / lp.chosenLengths - r / lp.rejectedLengths) * beta).logSigmoid()
        case .simpo, .orpoOR: fatalError("unreachable")
        }
    }

    /// −(1−ε) log σ(z) − ε log σ(−z) (just −log σ(z) when ε = 0).
    func smoothedLogistic(_ z: Tensor, _ eps: Float) -> Tensor {
        eps == 0 ? -z.logSigmoid() : z.logSigmoid() * -(1 - eps) - (-z).logSigmoid() * eps
    }

    /// x sorted ascending along its only axis; the gradient follows each
    /// element to its sorted position (a gather).
    static func sortedAscending(_ x: Tensor) -> Tensor {
        let v = x.scalars
        let order = v.indices.sorted { v[$0] < v[$1] || (v[$0] == v[$1] && $0 < $1) }
        return x.gather(axis: 0, indices: order, indexShape: [order.count])
    }
}
