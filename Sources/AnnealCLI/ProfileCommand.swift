// `anneal profile`: profile training steps of a workload: the per-op table,
// the forward/backward/optimizer split, FLOPs, MFU, peak memory, a Chrome
// trace (--trace) and a one-object JSON summary (--json).

import Anneal
import AnnealData
import AnnealProfile
import AnnealWorkloads
import ArgumentParser
import Foundation

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "Profile training steps: per-op table, FLOPs, MFU, peak memory, Chrome trace.",
        discussion: """
        W1, W2 and W4 run with phases (forward/backward/optimizer) and module scopes; other workloads \
        (W1F, W3, W5 when built) are profiled as one unmarked step. linear_flops counts GEMMs with batch 1 \
        (dense layers), attention_flops batched GEMMs (the attention score and value products, batch = B·H).
        """)

    @Argument(help: "Workload to profile: W1, W2, W4 (or another name `anneal bench` knows).")
    var workload: String?

    @Option(help: "Profile a training step of a saved model instead: a safetensors file or an `anneal train` output directory (GPT or MLP, random data).")
    var checkpoint: String?

    @Option(help: "Attention heads of a --checkpoint GPT (not stored in the weights; default: the checkpoint's config, else 4).")
    var heads: Int?

    @Option(help: "Batch of a --checkpoint step (sequences for a GPT, rows for an MLP).")
    var batch = 8

    @Option(help: "Profiled steps (figures are per step: medians of time, FLOPs per step).")
    var steps = 5

    @Option(help: "Warm-up steps run under the profiler and discarded.")
    var warmup = 2

    @Option(help: "Write a Chrome trace (trace-event JSON for Perfetto / chrome://tracing) to this file.")
    var trace: String?

    @Flag(help: "Print one JSON object with the per-step figures instead of the table.")
    var json = false

    @Option(help: "Group the table by op, shape or module.")
    var by = "op"

    @Option(help: "Rows of the table to print.")
    var top = 25

    @Option(name: .customLong("peak-gflops"), help: "sgemm peak for MFU in GFLOP/s (default: `anneal peak`'s cached value, measured if missing).")
    var peakGFLOPS: Double?

    @Option(help: "Instead of profiling, time N interleaved rounds of the plain step, the phased step with no profiler, and the profiled step; print medians and the overhead.")
    var overhead: Int?

    @Flag(help: .hidden) var diagnose = false

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        guard steps > 0, warmup >= 0, top > 0 else { throw ValidationError("--steps and --top must be positive, --warmup ≥ 0") }
        guard let key = AggregateKey(rawValue: by) else {
            throw ValidationError("unknown --by '\(by)' (known: \(AggregateKey.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        // A trace that cannot be written fails now, not after the run.
        let traceURL = trace.map { URL(fileURLWithPath: $0) }
        if let traceURL {
            do { try validateTracePath(traceURL) } catch { printError("error: \(error)"); throw ExitCode(1) }
        }
        guard (workload == nil) != (checkpoint == nil) else { throw ValidationError("give a workload name or --checkpoint") }
        let name = workload ?? checkpoint!
        if checkpoint != nil && overhead != nil { throw ValidationError("--overhead takes a workload name") }
        if checkpoint == nil && !PhasedWorkload.names.contains(name) && Workload.make(name) == nil {
            printError("error: unknown or unavailable workload '\(name)' (known: \(Workload.names.joined(separator: ", ")))")
            throw ExitCode(1)
        }
        if let overhead { return try measureOverhead(rounds: overhead) }

        let peak: Double
        if let peakGFLOPS { peak = peakGFLOPS } else {
            let (m, fromCache) = PeakFlops.cachedOrMeasured()
            if !fromCache { printError("measured sgemm peak \(String(format: "%.1f", m.gflops)) GFLOP/s (\(m.key)); cached in \(PeakFlops.cacheFile().path)") }
            peak = m.gflops
        }

        let profiler = Profiler()   // before the model: weights and optimizer state count toward peak memory
        let step: () -> Float
        if let checkpoint {
            step = try checkpointStep(checkpoint)
        } else if let w = PhasedWorkload.make(name) {
            step = w.step
        } else {
            step = Workload.make(name)!.step
        }
        profiler.run {
            for _ in 0..<warmup { profiler.step { _ = step() } }
            profiler.reset()
            for _ in 0..<steps { profiler.step { _ = step() } }
        }
        MemoryStats.stopTracking()
        let report = profiler.report()
        let id = PeakFlops.identity(of: Runtime.backend)

        if let traceURL {
            do { try report.writeChromeTrace(to: traceURL) } catch { printError("error: \(error)"); throw ExitCode(1) }
        }
        if json {
            print(report.summaryJSON(peakGFLOPS: peak, labels: [("workload", name), ("backend", id.backend), ("core", id.core)],
                                     counts: [("threads", id.threads)]))
        } else {
            print("profile \(name): backend \(id.backend) (\(id.core)), \(id.threads) threads, \(steps) steps after \(warmup) warm-up")
            print(report.table(by: key, limit: top, peakGFLOPS: peak))
            if let traceURL { print("trace: \(traceURL.path) (open in https://ui.perfetto.dev)") }
        }
    }

    /// A phased training step of the model saved at `path` (a safetensors file,
    /// or a directory holding checkpoint.safetensors).
    func checkpointStep(_ path: String) throws -> () -> Float {
        var url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            url = url.appendingPathComponent("checkpoint.safetensors")
        }
        do {
            let (tensors, metadata) = try SafeTensors.readTensors(url)
            let configHeads = metadata["anneal.config"].flatMap { text in
                (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            }?["heads"] as? Int
            return try PhasedWorkload.fromParameters(tensors, heads: heads ?? configHeads ?? 4, batch: batch).step
        } catch {
            printError("error: \(url.path): \(error)")
            throw ExitCode(1)
        }
    }

    /// Interleaved rounds of: the plain `Workload` step (no observer), the
    /// phased step with no profiler installed, and the phased step under a
    /// profiler (the order rotates every round); prints each one's median and
    /// the overheads against the plain step.
    func measureOverhead(rounds: Int) throws {
        let name = workload ?? ""
        guard rounds > 0, let phasedOff = PhasedWorkload.make(name), let phasedOn = PhasedWorkload.make(name),
              let plain = Workload.make(name) else {
            throw ValidationError("--overhead needs a positive round count and one of \(PhasedWorkload.names.joined(separator: ", "))")
        }
        let profiler = Profiler(trackMemory: false)
        let observed = ObservedBackend(Runtime.backend, observer: profiler)
        var variants: [(String, () -> Void)] = [
            ("plain", { _ = plain.step() }),
            ("phased, profiler off", { _ = phasedOff.step() }),
            ("profiled", {
                MemoryStats.startTracking()
                profiler.run { profiler.step { _ = phasedOn.step() } }
                MemoryStats.stopTracking()
                profiler.reset()
            }),
        ]
        if diagnose {
            let kernelsOnly = Workload.make(name)!, scopesOnly = PhasedWorkload.make(name)!, plain2 = Workload.make(name)!
            variants += [
                ("plain, second model", { _ = plain2.step() }),
                ("kernels only", { Runtime.withBackend(observed) { _ = kernelsOnly.step() }; profiler.reset() }),
                ("scopes only", {
                    ProfileScope.install(profiler)
                    _ = scopesOnly.step()
                    ProfileScope.uninstall()
                    profiler.reset()
                }),
            ]
        }
        for (_, body) in variants { for _ in 0..<max(1, warmup) { body() } }
        // Wall time, and CPU time of the process (all threads), which does not count time spent descheduled.
        func cpuSeconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        var wall = [[Double]](repeating: [], count: variants.count), cpu = wall
        for r in 0..<rounds {
            for j in 0..<variants.count {
                let i = (r + j) % variants.count
                let (t0, c0) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
                variants[i].1()
                wall[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                cpu[i].append(cpuSeconds() - c0)
            }
        }
        let (w, c) = (wall.map(median), cpu.map(median))
        for (i, (label, _)) in variants.enumerated() {
            print(String(format: "%@ %-22@ median_ms=%.3f cpu_ms=%.3f", name as NSString, label as NSString, w[i] * 1e3, c[i] * 1e3))
        }
        print(String(format: "%@ overhead vs plain (medians of %d interleaved rounds): profiler off %+.2f%% wall %+.2f%% cpu, "
                     + "profiler on %+.2f%% wall %+.2f%% cpu", name as NSString, rounds, 100 * (w[1] / w[0] - 1),
                     100 * (c[1] / c[0] - 1), 100 * (w[2] / w[0] - 1), 100 * (c[2] / c[0] - 1)))
    }
}
