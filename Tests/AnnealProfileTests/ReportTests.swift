// The aggregate table, phase split, MFU and JSON summary on synthetic
// records; the Chrome trace of a real profiled step (well-formed, nested);
// scopes; trace path validation.

import Anneal
import AnnealNN
import AnnealOptim
import AnnealProfile
import AnnealWorkloads
import Foundation
import Testing
import _TestSupport

let ms: UInt64 = 1_000_000

/// Two 10 ms steps: three linear GEMMs (1, 2, 3 ms), one attention GEMM (0.5 ms), two relu (0.2 ms each).
func syntheticReport() -> ProfileReport {
    let ops = [
        OpRecord(name: "gemm", start: 0, end: 1 * ms, flops: 1_000_000, bytesRead: 40, bytesWritten: 8,
                 detail: "m=2 n=2 k=2 batch=1 tA=0 tB=0", module: "0", phase: .forward, step: 0),
        OpRecord(name: "gemm", start: 1 * ms, end: 3 * ms, flops: 1_000_000, detail: "m=2 n=2 k=2 batch=1 tA=0 tB=1",
                 module: "2", phase: .backward, step: 0),
        OpRecord(name: "unary.relu", start: 3 * ms, end: 3 * ms + ms / 5, flops: 100, module: "1", phase: .forward, step: 0),
        OpRecord(name: "gemm", start: 20 * ms, end: 23 * ms, flops: 1_000_000, detail: "m=2 n=2 k=2 batch=1 tA=1 tB=0",
                 module: "0", phase: .backward, step: 1),
        OpRecord(name: "gemm", start: 23 * ms, end: 23 * ms + ms / 2, flops: 500_000, detail: "m=4 n=4 k=2 batch=8 tA=0 tB=1",
                 module: "", phase: .forward, step: 1),
        OpRecord(name: "unary.relu", start: 24 * ms, end: 24 * ms + ms / 5, flops: 100, module: "1", phase: .forward, step: 1),
    ]
    let spans = [
        SpanRecord(name: "forward", kind: .phase, start: 0, end: 4 * ms, phase: .forward, step: 0),
        SpanRecord(name: "backward", kind: .phase, start: 4 * ms, end: 9 * ms, phase: .backward, step: 0),
        SpanRecord(name: "forward", kind: .phase, start: 20 * ms, end: 22 * ms, phase: .forward, step: 1),
        SpanRecord(name: "backward", kind: .phase, start: 22 * ms, end: 29 * ms, phase: .backward, step: 1),
    ]
    let steps = [StepRecord(start: 0, end: 10 * ms, peakBytes: 100), StepRecord(start: 20 * ms, end: 30 * ms, peakBytes: 300)]
    return ProfileReport(ops: ops, spans: spans, steps: steps)
}

@Suite struct ReportMath {
    @Test func aggregateByOp() {
        let rows = syntheticReport().aggregate(by: .op)
        #expect(rows.map(\.key) == ["gemm.linear", "gemm.attention", "unary.relu"])
        let linear = rows[0]
        #expect(linear.calls == 3)
        #expect(abs(linear.totalSeconds - 6e-3) < 1e-12)
        #expect(abs(linear.meanSeconds - 2e-3) < 1e-12)
        #expect(abs(linear.percentOfStep - 30) < 1e-9)          // 6 ms of 20 ms of steps
        #expect(abs(linear.gflopsPerSecond - 0.5) < 1e-9)       // 3·10⁶ FLOP / 6 ms
        #expect(linear.flops == 3_000_000 && linear.bytes == 48)
        #expect(abs(rows[1].percentOfStep - 2.5) < 1e-9)
        #expect(rows[2].calls == 2 && abs(rows[2].totalSeconds - 4e-4) < 1e-12)
    }

    @Test func aggregateByModuleAndShape() {
        let r = syntheticReport()
        let modules = Dictionary(uniqueKeysWithValues: r.aggregate(by: .module).map { ($0.key, $0) })
        #expect(Set(modules.keys) == ["0", "1", "2", "(none)"])
        #expect(modules["0"]!.calls == 2 && abs(modules["0"]!.totalSeconds - 4e-3) < 1e-12)
        #expect(r.aggregate(by: .shape).count == 5)   // three linear shapes, one attention, one relu
    }

    @Test func perStepTotalsAndMFU() {
        let r = syntheticReport()
        #expect(r.stepCount == 2)
        #expect(abs(r.stepSeconds - 0.01) < 1e-12)
        #expect(r.linearFlops == 1_500_000)
        #expect(r.attentionFlops == 250_000)
        #expect(r.totalFlops == (3_000_000 + 500_000 + 200) / 2)
        #expect(r.flops(.other) == 100)
        #expect(r.peakBytes == 300)
        #expect(abs(r.mfu(peakGFLOPS: 1) - 0.175) < 1e-12)     // 1.75·10⁶ FLOP / 10 ms / 10⁹
        #expect(abs(r.gflopsPerSecond - Double(r.totalFlops) / 0.01 / 1e9) < 1e-12)
    }

    @Test func phaseSplit() {
        let phases = Dictionary(uniqueKeysWithValues: syntheticReport().phases().map { ($0.name, $0) })
        let f = phases["forward"]!, b = phases["backward"]!
        #expect(abs(f.seconds - 3e-3) < 1e-12)                 // (4 + 2) ms over 2 steps
        #expect(abs(b.seconds - 6e-3) < 1e-12)                 // (5 + 7) ms over 2 steps
        #expect(abs(f.percentOfStep - 30) < 1e-9)
        #expect(abs(f.kernelSeconds - (1 + 0.2 + 0.5 + 0.2) * 1e-3 / 2) < 1e-12)
        #expect(f.flops == (1_000_000 + 100 + 500_000 + 100) / 2)
        #expect(b.flops == 1_000_000)
        #expect(phases["optimizer"] == nil && phases["(unmarked)"] == nil)
    }

    @Test func summaryJSONCarriesTheFigures() throws {
        let r = syntheticReport()
        let text = r.summaryJSON(peakGFLOPS: 1, labels: [("workload", "X\"y")], counts: [("threads", 2)])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(obj["workload"] as? String == "X\"y")
        #expect((obj["threads"] as? NSNumber)?.intValue == 2)
        #expect((obj["linear_flops"] as? NSNumber)?.intValue == 1_500_000)
        #expect((obj["attention_flops"] as? NSNumber)?.intValue == 250_000)
        #expect((obj["total_flops"] as? NSNumber)?.intValue == r.totalFlops)
        #expect(abs(((obj["step_ms"] as? NSNumber)?.doubleValue ?? 0) - 10) < 1e-9)
        #expect(abs(((obj["mfu"] as? NSNumber)?.doubleValue ?? 0) - 0.175) < 1e-9)
        #expect((obj["peak_bytes"] as? NSNumber)?.intValue == 300)
        for key in ["gflops_per_s", "forward_ms", "backward_ms", "kernel_ms"] { #expect(obj[key] != nil, "missing \(key)") }
    }

    @Test func gemmClassFromDetail() {
        #expect(OpRecord(name: "gemm", start: 0, end: 1, flops: 1, detail: "m=1 n=2 k=3 batch=12 tA=0 tB=0").gemmBatch == 12)
        #expect(OpRecord(name: "gemm", start: 0, end: 1, flops: 1, detail: "m=1 n=2 k=3 batch=1 tA=0 tB=0").flopClass == .linear)
        #expect(OpRecord(name: "softmax", start: 0, end: 1, flops: 1, detail: "batch=4").flopClass == .other)
    }

    @Test func tablePrintsEveryRowAndTotals() {
        let text = syntheticReport().table(by: .op, peakGFLOPS: 1)
        for s in ["gemm.linear", "gemm.attention", "unary.relu", "(outside kernels)", "forward", "backward", "MFU 17.5%"] {
            #expect(text.contains(s), "table lacks \(s)")
        }
    }

    @Test func tracePathValidation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-trace-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try validateTracePath(dir.appendingPathComponent("t.json"))
        #expect(throws: TraceError.self) { try validateTracePath(dir.appendingPathComponent("missing/t.json")) }
        #expect(throws: TraceError.self) { try validateTracePath(dir) }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("t.json").path))
    }
}

/// A trace event as parsed back from JSON.
struct TraceEvent {
    let name: String, cat: String, ts: Double, dur: Double, args: [String: Any]
    var end: Double { ts + dur }
}

extension ProfilerTests {
    @Suite struct Traces {
        /// Two phased steps of a small GPT.
        func profileSmallGPT() -> ProfileReport {
            GlobalRandom.seed(5)
            let gpt = GPT(GPTConfig(vocabularySize: 13, contextLength: 8, dimensions: 16, layerCount: 2, headCount: 2))
            let opt = AdamW(parameters: gpt.trainableParameters(), learningRate: 1e-3)
            let ids = (0..<16).map { $0 % 13 }
            let p = Profiler()
            p.run {
                for _ in 0..<2 {
                    p.step {
                        p.phase(.optimizer) { opt.zeroGrad() }
                        let loss = p.phase(.forward) {
                            Tensor.crossEntropy(gpt(ids, batch: 2).reshaped([-1, 13]), targets: ids)
                        }
                        p.phase(.backward) { loss.backward() }
                        p.phase(.optimizer) { opt.step() }
                    }
                }
            }
            MemoryStats.stopTracking()
            return p.report()
        }

        @Test func chromeTraceIsWellFormedAndNested() throws {
            let report = profileSmallGPT()
            let root = try #require(try JSONSerialization.jsonObject(with: report.chromeTrace()) as? [String: Any])
            let raw = try #require(root["traceEvents"] as? [[String: Any]])
            var events: [TraceEvent] = []
            for e in raw where e["ph"] as? String != "M" {
                #expect(e["ph"] as? String == "X")
                #expect(e["pid"] != nil && e["tid"] != nil)
                let ts = try #require((e["ts"] as? NSNumber)?.doubleValue)
                let dur = try #require((e["dur"] as? NSNumber)?.doubleValue)
                #expect(ts >= 0 && dur >= 0)
                events.append(TraceEvent(name: e["name"] as? String ?? "", cat: e["cat"] as? String ?? "", ts: ts, dur: dur,
                                         args: e["args"] as? [String: Any] ?? [:]))
            }
            #expect(events.filter { $0.cat == "step" }.count == 2)
            #expect(events.filter { $0.cat == "phase" }.count == 8)   // optimizer, forward, backward, optimizer per step
            #expect(events.filter { $0.cat == "kernel" }.count == report.ops.count)

            // Walk in (ts, −dur) order with a stack: no partial overlaps; each kernel's innermost
            // enclosing span is its module's span (or a phase span when it has no module).
            let eps = 1e-6
            var stack: [TraceEvent] = []
            var backwardModuleKernels = 0
            for e in events.sorted(by: { ($0.ts, -$0.dur) < ($1.ts, -$1.dur) }) {
                while let top = stack.last, top.end <= e.ts + eps, !(top.dur == 0 && top.ts == e.ts) { stack.removeLast() }
                if let top = stack.last { #expect(e.end <= top.end + eps, "\(e.name) overlaps \(top.name) partially") }
                if e.cat == "kernel" {
                    let module = e.args["module"] as? String ?? ""
                    let parent = stack.last
                    if module.isEmpty {
                        #expect(parent?.cat == "phase" || parent?.cat == "step")
                    } else {
                        #expect(parent?.cat == "module" && parent?.name == module, "kernel \(e.name) in \(module) under \(parent?.name ?? "-")")
                        if e.args["phase"] as? String == "backward" { backwardModuleKernels += 1 }
                    }
                } else {
                    stack.append(e)
                }
            }
            #expect(backwardModuleKernels > 0)
            // Module spans nest by path: blocks.0.attention lies inside blocks.0.
            let modules = events.filter { $0.cat == "module" }
            for inner in modules where inner.name.hasPrefix("blocks.0.") {
                #expect(modules.contains { $0.name == "blocks.0" && $0.ts <= inner.ts + eps && inner.end <= $0.end + eps })
            }
            #expect(report.peakBytes > 0)
        }

        @Test func backwardKernelsCarryModulePaths() {
            let report = profileSmallGPT()
            let backward = report.ops.filter { $0.phase == .backward }
            // The dense backward GEMMs of fc run under blocks.1.fc; the attention products under blocks.1.attention.
            #expect(backward.contains { $0.module == "blocks.1.fc" && $0.flopClass == .linear })
            #expect(backward.contains { $0.module == "blocks.1.attention" && $0.flopClass == .attention })
            #expect(backward.contains { $0.module == "head" && $0.flopClass == .linear })
            #expect(backward.filter { $0.flopClass != .other }.allSatisfy { !$0.module.isEmpty })
        }

        @Test func mlpBackwardKernelsCarryLayerNames() throws {
            let w = try #require(PhasedWorkload.make("W4"))
            let p = Profiler(trackMemory: false)
            p.run { for _ in 0..<2 { p.step { _ = w.step() } } }
            let backward = p.report().ops.filter { $0.phase == .backward }
            let gemmModules = Set(backward.filter { $0.name == "gemm" }.map(\.module))
            #expect(gemmModules == ["0", "2", "4"])                 // layer 0's dW too (its input has no gradient)
            #expect(Set(backward.filter { $0.name.hasPrefix("unary_backward.relu") }.map(\.module)) == ["1", "3"])
            let forward = p.report().ops.filter { $0.phase == .forward && $0.name == "gemm" }
            #expect(forward.map(\.module) == ["0", "2", "4", "0", "2", "4"])
        }

        @Test func aRunWithoutStepsIsOneStep() {
            let p = Profiler(trackMemory: false)
            let a = Tensor.randn([4, 3], seed: 1), b = Tensor.randn([3, 2], seed: 2)
            p.run { _ = Tensor.matmul(a, b); _ = Tensor.matmul(a, b) }
            let r = p.report()
            #expect(r.stepCount == 1)
            #expect(r.linearFlops == 2 * (2 * 4 * 3 * 2))
            #expect(r.stepSeconds >= r.kernelSeconds)
            #expect(r.phases().map(\.name) == ["(unmarked)"])
            p.reset()
            #expect(p.report().ops.isEmpty)
        }

        @Test func memoryPeakCoversTensorsAliveInTheStep() {
            let p = Profiler()
            var during = 0
            p.run {
                p.step {
                    let big = Tensor.zeros([1 << 20])
                    during = MemoryStats.liveBytes
                    _ = big.count
                }
            }
            MemoryStats.stopTracking()
            #expect(p.report().peakBytes >= during)
            #expect(p.report().peakBytes > 0)
        }

        @Test func scopesReachOnlyAnInstalledObserver() {
            final class Log: ProfileScopeObserver {
                var lines: [String] = []
                func scopeBegan(_ name: String, kind: ProfileScope.Kind) { lines.append("+\(name)") }
                func scopeEnded(_ name: String, kind: ProfileScope.Kind) { lines.append("-\(name)") }
            }
            let log = Log()
            #expect(ProfileScope.withScope("a") { 1 } == 1)
            #expect(!ProfileScope.isProfiling)
            ProfileScope.install(log)
            defer { ProfileScope.uninstall() }
            let x = Tensor.randn([2, 3], seed: 1).requiringGrad()
            let y = ProfileScope.withPhase(.forward) {
                ProfileScope.module("outer", x) { h in ProfileScope.module("inner", h) { $0 * 2 } }
            }
            ProfileScope.withPhase(.backward) { y.sum().backward() }
            #expect(log.lines == ["+forward", "+outer", "+inner", "-inner", "-outer", "-forward",
                                  "+backward", "+outer", "+inner", "-inner", "-outer", "-backward"])
            #expect(x.grad?.scalars == [Float](repeating: 2, count: 6))
        }
    }
}
