// The Bradley–Terry reward-model loss of TRL's RewardTrainer, with an
// optional per-pair margin and reward centering.

import Anneal

/// What `BradleyTerryLoss` returns for one batch.
public struct BradleyTerryResult {
    /// The scalar loss (requires grad when the rewards do).
    public let loss: Tensor
    /// Fraction of pairs with r_c > r_r.
    public let accuracy: Float
    /// mean(r_c − r_r).
    public let margin: Float
}

/// loss = mean(−log σ(r_c − r_r − m)) + c · mean((r_c + r_r)²), for scalar
/// rewards r_c, r_r [B] of the chosen and rejected completions, margins m [B]
/// (zero when absent) and the centering coefficient c (TRL's
/// `center_rewards_coefficient`, which pulls rewards toward zero mean).
public struct BradleyTerryLoss: Sendable {
    /// c; 0 disables centering.
    public var centerRewardsCoefficient: Float

    /// A Bradley–Terry loss.
    public init(centerRewardsCoefficient: Float = 0) { self.centerRewardsCoefficient = centerRewardsCoefficient }

    /// The loss, accuracy and mean margin of one batch.
    public func callAsFunction(chosen: Tensor, rejected: Tensor, margin: Tensor? = nil) -> BradleyTerryResult {
        require(chosen.shape == rejected.shape && chosen.rank == 1, "Bradley–Terry: chosen \(chosen.shape) vs rejected \(rejected.shape)")
        var diff = chosen - rejected
        if let margin {
            require(margin.shape == chosen.shape, "Bradley–Terry: margin \(margin.shape) for rewards \(chosen.shape)")
            diff = diff - margin
        }
        var loss = -diff.logSigmoid().mean()
        if centerRewardsCoefficient != 0 {
            loss = loss + (chosen + rejected).squared().mean() * centerRewardsCoefficient
        }
        let c = chosen.scalars, r = rejected.scalars
        let wins = zip(c, r).filter { $0 > $1 }.count
        let meanMargin = zip(c, r).reduce(Float(0)) { $0 + ($1.0 - $1.1) } / Float(Swift.max(c.count, 1))
        return BradleyTerryResult(loss: loss, accuracy: Float(wins) / Float(Swift.max(c.count, 1)), margin: meanMargin)
    }
}
