// Kernel benchmarks through the public Tensor API: gemm (256², 1024²), an
// elementwise add and GELU over 1M elements, sums along each axis of a
// 1024×1024 tensor, and the per-op dispatch cost of a 16-element add.

import Anneal
import Benchmark
import Foundation

/// Registers the kernel benchmarks for `backend`; names end in "<backend> t<threads>".
func registerKernelBenchmarks(on backend: Backend, oracle: Oracle) {
    let suffix = "\(backend.name) t\(backend.threads)"

    // MARK: gemm — C = A·B, A and B n×n standard normal; 2n³ flops a call.
    for n in [256, 1024] {
        Benchmark("gemm \(n) \(suffix)") { (_: Benchmark, inputs: (Tensor, Tensor)) in
            let (a, b) = inputs
            Runtime.withBackend(backend) { blackHole(Tensor.matmul(a, b)) }
        } setup: {
            let (a, b) = gemmInputs(n)
            let c = Runtime.withBackend(backend) { Tensor.matmul(a, b) }
            check("gemm \(n) \(backend.name)", c, oracle.product(n: n), atol: 2e-3, rtol: 1e-4)
            return (a, b)
        }
    }

    // MARK: elementwise — 1M elements.
    let elements = 1 << 20
    Benchmark("add 1M \(suffix)") { (_: Benchmark, inputs: (Tensor, Tensor)) in
        let (a, b) = inputs
        Runtime.withBackend(backend) { blackHole(a + b) }
    } setup: {
        let a = Tensor.randn([elements], seed: 3), b = Tensor.randn([elements], seed: 4)
        let expected = zip(a.scalars, b.scalars).map { Double($0) + Double($1) }
        check("add 1M \(backend.name)", Runtime.withBackend(backend) { a + b }, expected, atol: 1e-6, rtol: 1e-6)
        return (a, b)
    }

    Benchmark("gelu 1M \(suffix)") { (_: Benchmark, x: Tensor) in
        Runtime.withBackend(backend) { blackHole(x.gelu()) }
    } setup: {
        let x = Tensor.randn([elements], seed: 5) * 3
        // Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)).
        let expected = x.scalars.map { v in 0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot())) }
        check("gelu 1M \(backend.name)", Runtime.withBackend(backend) { x.gelu() }, expected, atol: 1e-5, rtol: 1e-5)
        return x
    }

    // MARK: reduction — sum along one axis of a 1024×1024 tensor.
    let side = 1024
    for axis in [0, 1] {
        Benchmark("sum axis \(axis) 1024x1024 \(suffix)") { (_: Benchmark, x: Tensor) in
            Runtime.withBackend(backend) { blackHole(x.sum(axis: axis)) }
        } setup: {
            let x = Tensor.randn([side, side], seed: 6)
            let v = x.scalars
            var expected = [Double](repeating: 0, count: side)
            for i in 0..<side {
                for j in 0..<side { expected[axis == 0 ? j : i] += Double(v[i * side + j]) }
            }
            let got = Runtime.withBackend(backend) { x.sum(axis: axis) }
            check("sum axis \(axis) \(backend.name)", got, expected, atol: 1e-3, rtol: 1e-4)
            return x
        }
    }

    // MARK: dispatch — a + b on 16 elements, autograd off, 1000 ops per iteration
    // (times are per op). "plain": no input requires a gradient; "noGrad": both
    // do, inside `Runtime.withNoGrad`.
    let dispatch = Benchmark.Configuration(
        metrics: Benchmark.defaultConfiguration.metrics,
        timeUnits: .nanoseconds,
        scalingFactor: .kilo
    )
    for requiresGrad in [false, true] {
        let variant = requiresGrad ? "noGrad" : "plain"
        Benchmark("dispatch add16 \(variant) \(suffix)", configuration: dispatch) { (benchmark: Benchmark, inputs: (Tensor, Tensor)) in
            let (a, b) = inputs
            let run = {
                Runtime.withBackend(backend) {
                    for _ in benchmark.scaledIterations { blackHole(a + b) }
                }
            }
            if requiresGrad { Runtime.withNoGrad(run) } else { run() }
        } setup: {
            var (a, b) = (Tensor.randn([16], seed: 7), Tensor.randn([16], seed: 8))
            let expected = zip(a.scalars, b.scalars).map { Double($0) + Double($1) }
            if requiresGrad { (a, b) = (a.requiringGrad(), b.requiringGrad()) }
            let z = Runtime.withNoGrad { Runtime.withBackend(backend) { a + b } }
            check("dispatch add16 \(backend.name)", z, expected, atol: 1e-6, rtol: 1e-6)
            if z.requiresGrad { checkFailed("dispatch add16 \(backend.name): recorded a graph under withNoGrad") }
            return (a, b)
        }
    }
}
