// W3 (a DPO step on the W2 GPT with cached reference log-probs) and W5 (a
// reward-model step on the W2 backbone), shaped as torch_workloads.py, plus
// the plain summed-log-prob step that W3's overhead is measured against.

import Anneal
import AnnealAlign
import AnnealNN
import AnnealOptim

extension Workload {
    /// 16 pairs of prompt 32 + completion 32 random tokens (rows 0–15 chosen,
    /// 16–31 rejected, as the PyTorch script's `ids[:16]`, `ids[16:]`).
    static func alignPairs(seed: UInt64) -> PreferenceExamples {
        var rng = RandomGenerator(seed: seed)
        let rows = (0..<32).map { _ in (0..<64).map { _ in rng.nextInt(65) } }
        return .paired((0..<16).map { i in
            TokenizedPair(prompt: Array(rows[i][..<32]), chosen: Array(rows[i][32...]), rejected: Array(rows[16 + i][32...]))
        })
    }

    /// W3: DPO (sigmoid, β 0.1) on the W2 GPT, 16 pairs, reference log-probs
    /// precomputed (random, as the PyTorch script), AdamW(lr 1e-5). The step
    /// is `DPOTrainer.step`: one forward of the 32 stacked sequences, masked
    /// log-prob sums, the loss, backward and the optimizer step.
    static func dpoWorkload() -> Workload? { dpoOverheadPair().dpo }

    /// W3 and the same policy step with a plain summed-log-prob loss
    /// (−mean of the 32 sequence log-probs; forward, backward and AdamW step
    /// as in W3), for the "cached DPO costs ≤ 1.05× a plain step" target.
    /// Separate models and optimizers with identical shapes.
    public static func dpoOverheadPair() -> (dpo: Workload, plain: Workload) {
        GlobalRandom.seed(0)
        let examples = alignPairs(seed: 3)
        var rng = RandomGenerator(seed: 4)
        let ref = Tensor.randn([32], generator: &rng).scalars
        let cache = ReferenceLogProbs(first: Array(ref[..<16]), second: Array(ref[16...]),
                                      dataFingerprint: examples.fingerprint, modelFingerprint: 0)
        let policy = GPT(gptConfig)
        let trainer = DPOTrainer(policy: policy, examples: examples, objective: .pairwise(PreferenceLoss([.sigmoid], beta: 0.1)),
                                 reference: .cached(cache), optimizer: AdamW(parameters: policy.trainableParameters(), learningRate: 1e-5))
        let all = Array(0..<16)
        let dpo = Workload(name: "W3", itemsPerStep: 16, warmup: 3, reps: 20) {
            (try? trainer.step(all))?.loss ?? .nan
        }
        let plainModel = GPT(gptConfig)
        let plainOpt = AdamW(parameters: plainModel.trainableParameters(), learningRate: 1e-5)
        let plain = Workload(name: "W3-plain", itemsPerStep: 16, warmup: 3, reps: 20) {
            plainOpt.zeroGrad()
            let loss = -plainModel.sequenceLogProbs(examples.batch(all)).mean()
            loss.backward()
            plainOpt.step()
            return loss.item()
        }
        return (dpo, plain)
    }

    /// W5: reward model = W2 backbone (no LM head) + Linear(128, 1) on the last
    /// token, Bradley–Terry on 16 pairs of length 64, AdamW(lr 1e-5).
    static func rewardWorkload() -> Workload? {
        let model = RewardModel(backbone: GPT(gptConfig))
        let trainer = RewardTrainer(model: model, optimizer: AdamW(parameters: model.trainableParameters(), learningRate: 1e-5))
        var rng = RandomGenerator(seed: 5)
        let rows = (0..<32).map { _ in (0..<64).map { _ in rng.nextInt(65) } }
        // A whole row is the "completion" (no prompt): the reward reads position 63.
        let pairs = (0..<16).map { TokenizedPair(prompt: [], chosen: rows[$0], rejected: rows[16 + $0]) }
        return Workload(name: "W5", itemsPerStep: 16, warmup: 3, reps: 20) {
            (try? trainer.step(pairs))?.loss ?? .nan
        }
    }
}
