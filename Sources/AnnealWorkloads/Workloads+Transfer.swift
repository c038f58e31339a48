// W1F: W1 with its first two Linear layers frozen.

extension Workload {
    /// Not built yet (the transfer-learning work fills it in).
    static func frozenMLPWorkload() -> Workload? { nil }
}
