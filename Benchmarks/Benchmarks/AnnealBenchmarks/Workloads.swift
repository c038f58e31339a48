// Training-step benchmarks: one iteration is one `Workload.step()` (zero grads,
// forward, loss, backward, optimizer step) of W1 (MLP 784-1024-1024-10, batch
// 256), W2 (char GPT d128 L4, batch 32×64) and W4 (MLP 32-64-64-4, batch 16).

import Anneal
import AnnealNN
import AnnealOptim
import AnnealWorkloads
import Benchmark

/// The workloads benchmarked, by name.
let benchmarkedWorkloads = ["W1", "W2", "W4"]

/// Registers the workload benchmarks for `backend`.
func registerWorkloadBenchmarks(on backend: Backend, oracle: Oracle) {
    // Steps take milliseconds: CPU time (10 ms ticks) means something here.
    var configuration = Benchmark.defaultConfiguration
    configuration.metrics.append(.cpuTotal)
    for name in benchmarkedWorkloads {
        Benchmark("\(name) step \(backend.name) t\(backend.threads)", configuration: configuration) { (_: Benchmark, workload: Workload) in
            Runtime.withBackend(backend) { blackHole(workload.step()) }
        } setup: {
            // The first two losses (the second one sees the first update, so it
            // checks backward and the optimizer too) must match the oracle's.
            let expected = oracle.losses(workload: name)
            let got = firstLosses(name, on: backend)
            for (step, (g, e)) in zip(got, expected).enumerated() where !(abs(g - e) <= 1e-3 * max(1, abs(e))) {
                checkFailed("\(name) \(backend.name): loss \(g) at step \(step + 1), reference \(e)")
            }
            return freshWorkload(name)
        }
    }
}

/// A fresh, seeded workload `name`.
func freshWorkload(_ name: String) -> Workload {
    guard let w = Workload.make(name) else { checkFailed("no workload \(name)") }
    return w
}

/// The losses of the first two steps of a fresh workload `name` on `backend`.
func firstLosses(_ name: String, on backend: Backend) -> [Float] {
    let w = freshWorkload(name)
    return Runtime.withBackend(backend) { [w.step(), w.step()] }
}
