// The benchmark workloads, with exactly the shapes of the PyTorch reference
// script (shared/peers/torch_workloads.py): one training step each.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// A benchmark workload: a model, fixed data and one training step.
public struct Workload {
    /// "W1", "W2", …
    public let name: String
    /// Items (samples or tokens) one step processes, for items/s.
    public let itemsPerStep: Int
    /// Warm-up and timed repetitions (as the PyTorch script).
    public let warmup: Int, reps: Int
    /// Runs one step: zero grads, forward, loss, backward, optimizer step. Returns the loss.
    public let step: () -> Float

    /// Every workload name, in order.
    public static let names = ["W1", "W1F", "W2", "W3", "W4", "W5"]

    /// Builds the workload `name` (nil if unknown). Weights and data are seeded.
    public static func make(_ name: String) -> Workload? {
        GlobalRandom.seed(0)
        let made: Workload?
        switch name {
        case "W1": made = mlpWorkload(name, sizes: [784, 1024, 1024, 10], batch: 256, reps: 20, warmup: 3)
        case "W4": made = mlpWorkload(name, sizes: [32, 64, 64, 4], batch: 16, reps: 200, warmup: 20)
        case "W2": made = gptWorkload()
        case "W1F": made = frozenMLPWorkload()
        case "W3": made = dpoWorkload()
        case "W5": made = rewardWorkload()
        default: made = nil
        }
        return made
    }

    /// The W2 GPT: V 65, T 64, d 128, L 4, h 4 (also W3's policy and W5's backbone).
    static let gptConfig = GPTConfig(vocabularySize: 65, contextLength: 64, dimensions: 128, layerCount: 4, headCount: 4)

    /// MLP with ReLU, cross-entropy, SGD(lr 0.01); parameters matching `frozen` globs are frozen.
    static func mlpWorkload(_ name: String, sizes: [Int], batch: Int, reps: Int, warmup: Int,
                            frozen: [String] = []) -> Workload {
        plain(PhasedWorkload.mlp(name, sizes: sizes, batch: batch, frozen: frozen), warmup: warmup, reps: reps)
    }

    /// Char GPT V65 T64 d128 L4 h4, batch 32, AdamW(lr 3e-4).
    static func gptWorkload() -> Workload { plain(PhasedWorkload.gpt(), warmup: 3, reps: 20) }

    /// The same model, optimizer, data and loss as `phased`, stepped without phase markers.
    static func plain(_ phased: PhasedWorkload, warmup: Int, reps: Int) -> Workload {
        Workload(name: phased.name, itemsPerStep: phased.itemsPerStep, warmup: warmup, reps: reps) {
            phased.optimizer.zeroGrad()
            let loss = phased.forward()
            loss.backward()
            phased.optimizer.step()
            return loss.item()
        }
    }
}

/// Median wall time of `step` in seconds over `reps` runs after `warmup` runs.
public func medianSeconds(warmup: Int, reps: Int, _ step: () -> Void) -> Double {
    for _ in 0..<warmup { step() }
    var samples: [Double] = []
    samples.reserveCapacity(reps)
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        step()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }
    samples.sort()
    return samples.count % 2 == 1 ? samples[samples.count / 2] : (samples[samples.count / 2 - 1] + samples[samples.count / 2]) / 2
}
