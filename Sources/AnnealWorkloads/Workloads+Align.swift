// W3 (DPO step on the W2 model) and W5 (reward-model step).

extension Workload {
    /// Not built yet (the alignment work fills it in).
    static func dpoWorkload() -> Workload? { nil }
    /// Not built yet (the alignment work fills it in).
    static func rewardWorkload() -> Workload? { nil }
}
