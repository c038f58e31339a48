// W1F: W1 with its first two Linear layers frozen (shared/peers/torch_workloads.py).
// The frozen layers run forward every step (no feature cache); backward runs
// only the last layer's weight-gradient GEMM.

extension Workload {
    /// MLP 784-1024-1024-10 (batch 256, cross-entropy, SGD lr 0.01) with
    /// `0.*` and `2.*` frozen; the optimizer holds only the last layer.
    static func frozenMLPWorkload() -> Workload? {
        mlpWorkload("W1F", sizes: [784, 1024, 1024, 10], batch: 256, reps: 20, warmup: 3, frozen: ["0.*", "2.*"])
    }
}
