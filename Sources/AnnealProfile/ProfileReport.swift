// What a profile found: per-step FLOP totals, the aggregate table sorted by
// total time (as torch.profiler's key_averages), the phase split, peak
// memory and MFU, as text and as a JSON summary.

import Anneal
import Foundation

/// One row of the aggregate table.
public struct AggregateRow: Sendable, Equatable {
    /// The grouping key (op name, op and shape, or module path).
    public var key: String
    /// Kernel calls over all profiled steps.
    public var calls: Int
    /// Summed kernel time in seconds.
    public var totalSeconds: Double
    /// Summed FLOPs and bytes.
    public var flops: Int, bytes: Int
    /// Share of the summed step wall time, in percent.
    public var percentOfStep: Double

    /// totalSeconds / calls.
    public var meanSeconds: Double { calls > 0 ? totalSeconds / Double(calls) : 0 }
    /// flops / totalSeconds / 10⁹.
    public var gflopsPerSecond: Double { totalSeconds > 0 ? Double(flops) / totalSeconds / 1e9 : 0 }
}

/// Time and FLOPs of one phase, per step.
public struct PhaseRow: Sendable, Equatable {
    /// "forward", "backward", "optimizer" or "(unmarked)".
    public var name: String
    /// Wall time of the phase spans per step (for "(unmarked)": step time not inside any phase).
    public var seconds: Double
    /// Kernel time within the phase per step.
    public var kernelSeconds: Double
    /// FLOPs of the phase's kernels per step.
    public var flops: Int
    /// seconds / step time, in percent.
    public var percentOfStep: Double
}

/// How to group kernel records into table rows.
public enum AggregateKey: String, Sendable, CaseIterable {
    /// Kernel name; GEMMs split into "gemm.linear" and "gemm.attention" (see `FlopClass`).
    case op
    /// Kernel name and operand shapes.
    case shape
    /// Module path ("(none)" outside every module).
    case module
}

/// A finished profile: records plus the figures derived from them. Per-step
/// figures are averages over the recorded steps (a run without
/// `Profiler.step` counts as one step lasting the whole run).
public struct ProfileReport: Sendable {
    /// Every kernel call, in order.
    public var ops: [OpRecord]
    /// Every closed step, phase and module span.
    public var spans: [SpanRecord]
    /// The profiled steps (at least one).
    public var steps: [StepRecord]

    /// A report over these records. `runSeconds` is the run's length, used as
    /// the step time when no steps were marked.
    public init(ops: [OpRecord], spans: [SpanRecord] = [], steps: [StepRecord] = [], runSeconds: Double = 0) {
        self.ops = ops; self.spans = spans
        if steps.isEmpty {
            let start = ops.map(\.start).min() ?? 0
            let end = max(ops.map(\.end).max() ?? 0, start &+ UInt64(max(0, runSeconds) * 1e9))
            self.steps = [StepRecord(start: start, end: end)]
        } else {
            self.steps = steps
        }
    }

    /// Number of steps the per-step figures average over.
    public var stepCount: Int { steps.count }

    /// Median step wall time in seconds.
    public var stepSeconds: Double { median(steps.map(\.seconds)) }

    /// Summed step wall time in seconds.
    public var totalStepSeconds: Double { steps.reduce(0) { $0 + $1.seconds } }

    /// FLOPs of class `c` per step (total over records / steps).
    public func flops(_ c: FlopClass) -> Int {
        ops.reduce(0) { $1.flopClass == c ? $0 + $1.flops : $0 } / max(1, stepCount)
    }

    /// Dense-layer GEMM FLOPs per step (forward and backward).
    public var linearFlops: Int { flops(.linear) }
    /// Attention score and value product FLOPs per step (forward and backward, no causal halving).
    public var attentionFlops: Int { flops(.attention) }
    /// Every kernel's FLOPs per step.
    public var totalFlops: Int { ops.reduce(0) { $0 + $1.flops } / max(1, stepCount) }
    /// The FLOPs MFU counts: linear + attention (matrix products only, as in PaLM's MFU).
    public var modelFlops: Int { linearFlops + attentionFlops }
    /// Kernel time per step in seconds.
    public var kernelSeconds: Double { ops.reduce(0) { $0 + $1.seconds } / Double(max(1, stepCount)) }
    /// Highest per-step peak of live tensor bytes.
    public var peakBytes: Int { steps.map(\.peakBytes).max() ?? 0 }

    /// totalFlops / stepSeconds / 10⁹.
    public var gflopsPerSecond: Double { stepSeconds > 0 ? Double(totalFlops) / stepSeconds / 1e9 : 0 }

    /// Model-FLOPs utilisation: modelFlops / stepSeconds / peak, for a peak in GFLOP/s.
    public func mfu(peakGFLOPS: Double) -> Double {
        guard stepSeconds > 0, peakGFLOPS > 0 else { return 0 }
        return Double(modelFlops) / stepSeconds / (peakGFLOPS * 1e9)
    }

    /// Kernel records grouped by `key`, sorted by total time (descending).
    public func aggregate(by key: AggregateKey = .op) -> [AggregateRow] {
        var rows: [String: AggregateRow] = [:]
        let stepTotal = totalStepSeconds
        for op in ops {
            let k: String
            switch key {
            case .op: k = op.name == "gemm" ? "gemm.\(op.flopClass.rawValue)" : op.name
            case .shape: k = "\(op.name == "gemm" ? "gemm.\(op.flopClass.rawValue)" : op.name) [\(op.detail)]"
            case .module: k = op.module.isEmpty ? "(none)" : op.module
            }
            rows[k, default: AggregateRow(key: k, calls: 0, totalSeconds: 0, flops: 0, bytes: 0, percentOfStep: 0)]
                .add(op, stepTotal: stepTotal)
        }
        return rows.values.sorted { $0.totalSeconds != $1.totalSeconds ? $0.totalSeconds > $1.totalSeconds : $0.key < $1.key }
    }

    /// Forward / backward / optimizer split per step; "(unmarked)" holds the
    /// step time outside every phase (and kernels run there).
    public func phases() -> [PhaseRow] {
        let n = Double(max(1, stepCount))
        let step = totalStepSeconds / n
        var rows: [PhaseRow] = []
        var marked = 0.0
        for p in ProfileScope.Phase.allCases {
            let wall = spans.filter { $0.kind == .phase && $0.name == p.rawValue }.reduce(0) { $0 + $1.seconds } / n
            let mine = ops.filter { $0.phase == p }
            guard wall > 0 || !mine.isEmpty else { continue }
            marked += wall
            rows.append(PhaseRow(name: p.rawValue, seconds: wall, kernelSeconds: mine.reduce(0) { $0 + $1.seconds } / n,
                                 flops: mine.reduce(0) { $0 + $1.flops } / max(1, stepCount),
                                 percentOfStep: step > 0 ? 100 * wall / step : 0))
        }
        let rest = ops.filter { $0.phase == nil }
        let restWall = max(0, step - marked)
        if !rest.isEmpty || rows.isEmpty {
            rows.append(PhaseRow(name: "(unmarked)", seconds: restWall, kernelSeconds: rest.reduce(0) { $0 + $1.seconds } / n,
                                 flops: rest.reduce(0) { $0 + $1.flops } / max(1, stepCount),
                                 percentOfStep: step > 0 ? 100 * restWall / step : 0))
        }
        return rows
    }

    /// The aggregate table (top `limit` rows), the phase split and the totals as text.
    public func table(by key: AggregateKey = .op, limit: Int = 25, peakGFLOPS: Double? = nil) -> String {
        var lines: [String] = []
        let rows = aggregate(by: key)
        let width = max(24, min(60, rows.prefix(limit).map(\.key.count).max() ?? 0))
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        lines.append(pad(key == .module ? "Module" : "Name", width)
                     + "     Calls   Total ms    Mean ms  % step    GFLOP   GFLOP/s")
        for r in rows.prefix(limit) {
            lines.append(pad(r.key, width) + String(format: " %9d %10.3f %10.4f %7.2f %8.3f %9.2f", r.calls,
                                                    r.totalSeconds * 1e3, r.meanSeconds * 1e3, r.percentOfStep,
                                                    Double(r.flops) / 1e9, r.gflopsPerSecond))
        }
        if rows.count > limit { lines.append("… \(rows.count - limit) more rows") }
        let kernelTotal = ops.reduce(0) { $0 + $1.seconds }
        let outside = max(0, totalStepSeconds - kernelTotal)
        lines.append(pad("(outside kernels)", width) + String(repeating: " ", count: 10)
                     + String(format: " %10.3f %@ %7.2f", outside * 1e3, String(repeating: " ", count: 10) as NSString,
                              totalStepSeconds > 0 ? 100 * outside / totalStepSeconds : 0))
        lines.append("")
        lines.append(pad("Phase (mean per step)", width) + "   Wall ms  Kernel ms  % step    GFLOP")
        for p in phases() {
            lines.append(pad(p.name, width) + String(format: " %9.3f %10.3f %7.2f %8.3f", p.seconds * 1e3,
                                                    p.kernelSeconds * 1e3, p.percentOfStep, Double(p.flops) / 1e9))
        }
        lines.append("")
        lines.append(String(format: "steps %d, step %.3f ms (median; mean %.3f), kernels %.3f ms/step (mean)", stepCount,
                            stepSeconds * 1e3, totalStepSeconds / Double(max(1, stepCount)) * 1e3, kernelSeconds * 1e3))
        lines.append("FLOPs/step: linear \(linearFlops), attention \(attentionFlops), total \(totalFlops)"
                     + String(format: " (%.2f GFLOP/s)", gflopsPerSecond))
        if let peakGFLOPS {
            lines.append(String(format: "MFU %.1f%% of %.1f GFLOP/s sgemm peak (model FLOPs = linear + attention)",
                                100 * mfu(peakGFLOPS: peakGFLOPS), peakGFLOPS))
        }
        lines.append("peak live tensor memory: \(formatBytes(peakBytes))")
        return lines.joined(separator: "\n")
    }

    /// One JSON object with the per-step figures: step_ms, linear_flops,
    /// attention_flops, other_flops, total_flops, model_flops, gflops_per_s,
    /// peak_gflops, mfu, peak_bytes, kernel_ms and the phase times
    /// (forward_ms, …), after the string `labels` and integer `counts` given.
    public func summaryJSON(peakGFLOPS: Double?, labels: [(String, String)] = [], counts: [(String, Int)] = []) -> String {
        var pairs = labels.map { ($0.0, JSONText.string($0.1)) } + counts.map { ($0.0, String($0.1)) }
        pairs += [
            ("steps", String(stepCount)),
            ("step_ms", JSONText.number(stepSeconds * 1e3, decimals: 4)),
            ("linear_flops", String(linearFlops)),
            ("attention_flops", String(attentionFlops)),
            ("other_flops", String(flops(.other))),
            ("total_flops", String(totalFlops)),
            ("model_flops", String(modelFlops)),
            ("gflops_per_s", JSONText.number(gflopsPerSecond, decimals: 3)),
            ("peak_gflops", peakGFLOPS.map { JSONText.number($0, decimals: 3) } ?? "null"),
            ("mfu", peakGFLOPS.map { JSONText.number(mfu(peakGFLOPS: $0), decimals: 5) } ?? "null"),
            ("peak_bytes", String(peakBytes)),
            ("kernel_ms", JSONText.number(kernelSeconds * 1e3, decimals: 4)),
        ]
        for p in phases() {
            let key = p.name == "(unmarked)" ? "unmarked" : p.name
            pairs.append(("\(key)_ms", JSONText.number(p.seconds * 1e3, decimals: 4)))
        }
        return JSONText.object(pairs)
    }
}

extension AggregateRow {
    mutating func add(_ op: OpRecord, stepTotal: Double) {
        calls += 1
        totalSeconds += op.seconds
        flops += op.flops
        bytes += op.bytesRead + op.bytesWritten
        percentOfStep = stepTotal > 0 ? 100 * totalSeconds / stepTotal : 0
    }
}

/// The median of `xs` (0 when empty).
func median(_ xs: [Double]) -> Double {
    guard !xs.isEmpty else { return 0 }
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Bytes in binary units ("12.3 MiB").
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var x = Double(n), u = 0
    while x >= 1024 && u < units.count - 1 { x /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", x, units[u] as NSString)
}
