// `anneal bench gemm`: GEMM throughput of each backend's Tensor.matmul beside
// raw cblas_sgemm, interleaved in one process (medians).

import Anneal
import ArgumentParser
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: the gemm suite (and the workload suite).")

    @Argument(help: "Suite: gemm.")
    var suite: String = "gemm"

    @Option(help: "Timed calls per variant (median reported).")
    var reps: Int = 20

    func run() throws {
        switch suite {
        case "gemm": runGemm()
        default: throw ValidationError("unknown suite '\(suite)' (known: gemm)")
        }
    }

    func runGemm() {
        #if OpenBLAS
        print("openblas core: \(OpenBLASBackend.coreName)")
        #else
        print("openblas core: none (built without OpenBLAS)")
        #endif
        for n in [64, 256, 1024] {
            let a = Tensor.randn([n, n], seed: 1), b = Tensor.randn([n, n], seed: 2)
            let flops = 2.0 * Double(n) * Double(n) * Double(n)
            let reps = n >= 1024 ? reps : max(reps, 200)
            for threads in [1, 2] {
                Runtime.threads = threads
                var variants: [(String, () -> Void)] = Runtime.availableBackends.map { backend in
                    ("anneal backend=\(backend.name)", { _ = Runtime.withBackend(backend) { Tensor.matmul(a, b) } })
                }
                #if OpenBLAS
                let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
                defer { c.deallocate() }
                variants.append(("cblas", {
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                        RawBLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: c)
                    } }
                }))
                #endif
                let times = interleavedMedians(variants.map(\.1), reps: reps)
                for ((label, _), t) in zip(variants, times) {
                    print("GEMM\(n) \(label) threads=\(threads) gflops=\(String(format: "%.1f", flops / t / 1e9))")
                }
            }
        }
    }
}

/// Runs each closure `reps` times, round-robin after one warm-up call each,
/// and returns each one's median wall time in seconds.
func interleavedMedians(_ bodies: [() -> Void], reps: Int) -> [Double] {
    for body in bodies { body() }
    var samples = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<reps {
        for (i, body) in bodies.enumerated() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            samples[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
    }
    return samples.map { median($0) }
}

/// The median of a non-empty sample.
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
