// The suite package-benchmark runs: kernels (gemm, elementwise, reduction,
// per-op dispatch) and training workloads, each on every backend this build has.

import Anneal
import Benchmark

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 3,
        maxDuration: .seconds(2),
        maxIterations: 1000
    )
    let oracle = Oracle()
    for backend in Runtime.availableBackends {
        registerKernelBenchmarks(on: backend, oracle: oracle)
    }
    for backend in Runtime.availableBackends {
        registerWorkloadBenchmarks(on: backend, oracle: oracle)
    }
}
