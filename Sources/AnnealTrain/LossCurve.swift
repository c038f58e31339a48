// Renders metrics.jsonl as an SVG loss curve: training loss per step and
// validation loss per epoch, with labelled axes.

import AnnealData
import Foundation

/// Writes the loss curve of a run.
public enum LossCurve {
    /// Reads step and epoch records from `metrics` and writes an SVG to `url` (atomically).
    public static func write(metrics: URL, to url: URL) throws {
        var steps: [(Double, Double)] = [], epochs: [(Double, Double)] = []
        let text = (try? String(contentsOf: metrics, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if o["type"] as? String == "step", let s = o["step"] as? Double, let l = o["loss"] as? Double { steps.append((s, l)) }
            if o["type"] as? String == "epoch", let s = o["step"] as? Double, let l = o["val_loss"] as? Double { epochs.append((s, l)) }
        }
        try AtomicFile.write(Data(svg(steps: steps, validation: epochs).utf8), to: url)
    }

    /// The SVG document for the given (step, loss) series.
    public static func svg(steps: [(Double, Double)], validation: [(Double, Double)]) -> String {
        let (w, h, pad) = (640.0, 400.0, 50.0)
        let all = steps + validation
        let maxX = max(all.map(\.0).max() ?? 1, 1)
        let ys = all.map(\.1).filter(\.isFinite)
        let (minY, maxY) = (min(ys.min() ?? 0, 0), max(ys.max() ?? 1, 1e-9))
        func px(_ x: Double) -> Double { pad + (w - 2 * pad) * x / maxX }
        func py(_ y: Double) -> Double { h - pad - (h - 2 * pad) * (y - minY) / (maxY - minY) }
        func polyline(_ pts: [(Double, Double)], _ color: String) -> String {
            let p = pts.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(p)\"/>"
        }
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <line x1="\(pad)" y1="\(h - pad)" x2="\(w - pad)" y2="\(h - pad)" stroke="black"/>
        <line x1="\(pad)" y1="\(pad)" x2="\(pad)" y2="\(h - pad)" stroke="black"/>
        <text x="\(w / 2)" y="\(h - 12)" text-anchor="middle">step</text>
        <text x="14" y="\(h / 2)" transform="rotate(-90 14 \(h / 2))" text-anchor="middle">loss</text>
        <text x="\(pad - 4)" y="\(h - pad)" text-anchor="end">\(String(format: "%.3g", minY))</text>
        <text x="\(pad - 4)" y="\(pad + 4)" text-anchor="end">\(String(format: "%.3g", maxY))</text>
        <text x="\(w - pad)" y="\(h - pad + 16)" text-anchor="end">\(Int(maxX))</text>
        \(polyline(steps, "#1f77b4"))
        \(polyline(validation, "#d62728"))
        <text x="\(w - pad)" y="\(pad)" text-anchor="end" fill="#1f77b4">training loss</text>
        <text x="\(w - pad)" y="\(pad + 16)" text-anchor="end" fill="#d62728">validation loss</text>
        </svg>
        """
    }
}
