// AnnealProfile: where a training step's time and FLOPs go, how close it runs
// to the machine's sgemm peak, and what a training run costs.
//
// - `Profiler` records every kernel (through `ObservedBackend`) with its
//   module path (`ProfileScope`) and phase; `ProfileReport` aggregates the
//   records (`aggregate(by:)`, `phases()`, `linearFlops`, `attentionFlops`)
//   and exports a Chrome trace (`chromeTrace()`).
// - `PeakFlops` measures and caches the sgemm peak that MFU is taken against.
// - `TrainingCost`, `ModelShape`, `RAPL`, `CostMeter`: training FLOPs after
//   Kaplan et al. (2020), time, energy, CO₂ and price.
//
//     let profiler = Profiler()
//     profiler.run { for _ in 0..<3 { profiler.step { _ = workload.step() } } }
//     print(profiler.report().table())

import Foundation

/// Minimal JSON text building for the trace and summaries (keys keep their order).
enum JSONText {
    /// `s` as a JSON string literal.
    static func string(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// A finite number (non-finite values become null).
    static func number(_ x: Double, decimals: Int? = nil) -> String {
        guard x.isFinite else { return "null" }
        if let decimals { return String(format: "%.\(decimals)f", x) }
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// An object from ordered key/value pairs whose values are already JSON text.
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }
}
