// `anneal bench gemm`: GEMM throughput of each backend's Tensor.matmul beside
// raw cblas_sgemm, interleaved in one process (medians).

import Anneal
import AnnealWorkloads
import ArgumentParser
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: the gemm suite (and the workload suite).")

    @Argument(help: "Suite: workloads (default) or gemm.")
    var suite: String = "workloads"

    @Option(help: "Comma-separated workloads to run (default: all).")
    var only: String?

    @Option(help: "Timed calls per gemm variant (median reported).")
    var reps: Int = 20

    @Flag(help: "Also print each workload's time per kernel (from an observed pass).")
    var breakdown = false

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        switch suite {
        case "gemm": runGemm()
        case "workloads": try runWorkloads()
        case "dispatch": runDispatch()
        default: throw ValidationError("unknown suite '\(suite)' (known: workloads, gemm, dispatch)")
        }
    }

    /// Per-op overhead: `a + b` on 16-element tensors with autograd off
    /// (allocation of the result included), median of 2000 batches of 100 calls.
    func runDispatch() {
        let a = Tensor.randn([16], seed: 1), b = Tensor.randn([16], seed: 2)
        for backend in Runtime.availableBackends {
            var sink: Float = 0
            let t = Runtime.withBackend(backend) {
                medianSeconds(warmup: 100, reps: 2000) {
                    for _ in 0..<100 { sink += (a + b).storageFirst }
                }
            }
            print("DISPATCH add16 anneal backend=\(backend.name) ns_per_op=\(String(format: "%.0f", t / 100 * 1e9))\(sink == .infinity ? " " : "")")
        }
    }

    /// One line per workload: median step time and throughput; W1 adds the
    /// share of its step spent inside GEMM (timed in a second, observed pass).
    func runWorkloads() throws {
        let names = only.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? Workload.names
        #if OpenBLAS
        print("openblas core: \(OpenBLASBackend.coreName)")
        #endif
        for name in names {
            guard let w = Workload.make(name) else { throw ValidationError("unknown workload '\(name)' (known: \(Workload.names.joined(separator: ", ")))") }
            let backend = Runtime.backend
            let t = medianSeconds(warmup: w.warmup, reps: w.reps) { _ = w.step() }
            var extra = ""
            if breakdown {
                let tally = KernelTally()
                let observed = ObservedBackend(backend, observer: tally)
                Runtime.withBackend(observed) { for _ in 0..<w.reps { _ = w.step() } }
                let total = tally.seconds.values.reduce(0, +)
                for (k, v) in tally.seconds.sorted(by: { $0.value > $1.value }).prefix(12) {
                    print(String(format: "  %-28@ %8.3f ms/step  %5.1f%%", k as NSString, v / Double(w.reps) * 1e3, 100 * v / total))
                }
            }
            if name == "W1" {
                let tally = KernelTally()
                let observed = ObservedBackend(backend, observer: tally)
                let stepTime = Runtime.withBackend(observed) { medianSeconds(warmup: 1, reps: w.reps) { _ = w.step() } }
                let gemm = (tally.seconds["gemm"] ?? 0) / Double(w.reps + 1)
                extra = String(format: " gemm_share=%.2f", gemm / stepTime)
            }
            print("\(name) anneal backend=\(backend.name) threads=\(backend.threads) median_ms=\(String(format: "%.3f", t * 1e3)) items_per_s=\(String(format: "%.1f", Double(w.itemsPerStep) / t))\(extra)")
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
                        RawBLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: c, threads: threads)
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
