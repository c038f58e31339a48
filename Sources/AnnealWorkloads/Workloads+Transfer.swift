// W1F: W1 with its first two Linear layers frozen (shared/peers/torch_workloads.py).
// The frozen layers run forward every step (no feature cache); backward runs
// only the last layer's weight-gradient GEMM.

import Anneal
import AnnealNN
import AnnealOptim

extension Workload {
    /// MLP 784-1024-1024-10 (batch 256, cross-entropy, SGD lr 0.01) with
    /// `0.*` and `2.*` frozen; the optimizer holds only the last layer.
    static func frozenMLPWorkload() -> Workload? {
        let model = Sequential.mlp([784, 1024, 1024, 10])
        model.freeze(["0.*", "2.*"])
        let opt = SGD(parameters: model.trainableParameters(), learningRate: 0.01)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([256, 784], generator: &rng)
        let y = (0..<256).map { _ in rng.nextInt(10) }
        return Workload(name: "W1F", itemsPerStep: 256, warmup: 3, reps: 20) {
            opt.zeroGrad()
            let loss = Tensor.crossEntropy(model(x), targets: y)
            loss.backward()
            opt.step()
            return loss.item()
        }
    }
}
