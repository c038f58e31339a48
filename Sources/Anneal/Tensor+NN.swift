// Fused neural-network ops with hand-written pullbacks: softmax,
// log-softmax, cross-entropy, layer norm and embedding lookup; MSE composed.

import Foundation

extension Tensor {
    /// Softmax along `axis`: eˣ / Σ eˣ.
    public func softmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: false) }
    /// Log-softmax along `axis`: x − logsumexp(x).
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: true) }

    func softmaxOp(axis: Int, log: Bool) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        if ax != rank - 1 {   // move the axis last, apply, move it back
            return transposed(ax, rank - 1).softmaxOp(axis: -1, log: log).transposed(ax, rank - 1)
        }
        let cols = Swift.max(shape.last ?? 1, 1), rows = count / cols
        let y = Tensor(uninitializedShape: shape)
        Runtime.backend.softmax(ptr, y.storage.base, rows: rows, cols: cols, log: log, causal: false)
        guard Tensor.needsGraph(self) else { return y }
        return y.recorded(log ? "log_softmax" : "softmax", [self]) { g, _ in
            let dx = Tensor(uninitializedShape: y.shape)
            Runtime.backend.softmaxBackward(y: y.ptr, dy: g.ptr, dx: dx.storage.base, rows: rows, cols: cols, log: log)
            return [dx]
        }
    }

    /// How a loss over rows is reduced.
    public enum Reduction: String, Sendable { case mean, sum, none }

    /// Cross-entropy of logits [N, C] against class indices `targets` [N]:
    /// ℓᵢ = logsumexp(xᵢ) − xᵢ[tᵢ]. Rows whose target equals `ignoreIndex` add
    /// nothing and are not counted by the mean. Pullback: (softmax − onehot)·g.
    public static func crossEntropy(_ logits: Tensor, targets: [Int], reduction: Reduction = .mean,
                                    ignoreIndex: Int? = nil) -> Tensor {
        require(logits.rank == 2 && logits.shape[0] == targets.count,
                     "crossEntropy: logits \(logits.shape) vs \(targets.count) targets")
        let (n, c) = (logits.shape[0], logits.shape[1])
        var t32 = [Int32](repeating: -1, count: n)
        var counted = 0
        for (i, t) in targets.enumerated() where t != ignoreIndex {
            require(t >= 0 && t < c, "crossEntropy: target \(t) out of range for \(c) classes (row \(i))")
            t32[i] = Int32(t); counted += 1
        }
        let losses = Tensor(uninitializedShape: [n])
        let probs = Tensor(uninitializedShape: [n, c])
        t32.withUnsafeBufferPointer {
            Runtime.backend.crossEntropy(logits.ptr, targets: $0.baseAddress!, rows: n, cols: c,
                                         losses: losses.storage.base, probs: probs.storage.base)
        }
        let perRowScale: Float
        let out: Tensor
        switch reduction {
        case .none: out = losses; perRowScale = 1
        case .sum: out = Tensor(Kernels.sum(losses.ptr, n)).reshaped([]); perRowScale = 1
        case .mean:
            out = Tensor(Kernels.sum(losses.ptr, n) / Float(Swift.max(counted, 1))).reshaped([])
            perRowScale = 1 / Float(Swift.max(counted, 1))
        }
        guard needsGraph(logits) else { return out }
        return out.recorded("cross_entropy", [logits]) { g, _ in
            let dx = Tensor(uninitializedShape: [n, c])
            for r in 0..<n {
                let row = dx.storage.base + r * c, p = probs.ptr + r * c
                let t = Int(t32[r])
                if t < 0 { row.update(repeating: 0, count: c); continue }
                let s = perRowScale * (reduction == .none ? g.ptr[r] : g.ptr[0])
                for j in 0..<c { row[j] = p[j] * s }
                row[t] -= s
            }
            return [dx]
        }
    }

    /// Mean squared error mean((a − b)²), composed from primitives.
    public static func mseLoss(_ a: Tensor, _ b: Tensor) -> Tensor { (a - b).squared().mean() }

    /// Layer norm over the last axis: (x − μ)/√(σ² + eps)·weight + bias, with
    /// weight and bias [C] (optional). Saves μ and 1/σ per row for the pullback.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let cols = x.shape[x.rank - 1], rows = x.count / cols
        if let weight { require(weight.shape == [cols], "layerNorm: weight \(weight.shape) for input \(x.shape)") }
        if let bias { require(bias.shape == [cols], "layerNorm: bias \(bias.shape) for input \(x.shape)") }
        let y = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: [rows]), rstd = Tensor(uninitializedShape: [rows])
        Runtime.backend.layerNorm(x.ptr, weight: weight?.ptr, bias: bias?.ptr, y.storage.base,
                                  mean: mean.storage.base, rstd: rstd.storage.base, rows: rows, cols: cols, eps: eps)
        guard needsGraph(x, weight, bias) else { return y }
        let xd = x.detached(), wd = weight?.detached()
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil, hasBias = bias != nil
        return y.recorded("layer_norm", inputs) { g, needs in
            let dx = needs[0] ? Tensor(uninitializedShape: xd.shape) : nil
            let needW = hasWeight && needs[1], needB = hasBias && needs[hasWeight ? 2 : 1]
            let dw = needW ? Tensor.zeros([cols]) : nil
            let db = needB ? Tensor.zeros([cols]) : nil
            Runtime.backend.layerNormBackward(x: xd.ptr, weight: wd?.ptr, mean: mean.ptr, rstd: rstd.ptr, dy: g.ptr,
                                              dx: dx?.storage.base, dweight: dw?.storage.base, dbias: db?.storage.base,
                                              rows: rows, cols: cols)
            var grads: [Tensor?] = [dx]
            if hasWeight { grads.append(dw) }
            if hasBias { grads.append(db) }
            return grads
        }
    }

    /// Rows of `weight` [V, D] picked by `indices` (any shape S): result [S..., D].
    /// Pullback: scatter-add into the rows (repeated indices accumulate).
    public static func embedding(_ indices: [Int], shape indexShape: [Int], weight: Tensor) -> Tensor {
        require(weight.rank == 2, "embedding: weight must be [V, D], got \(weight.shape)")
        require(indices.count == Shape.count(indexShape), "embedding: \(indices.count) indices for shape \(indexShape)")
        let (v, d) = (weight.shape[0], weight.shape[1])
        let idx = indices.map { i -> Int32 in
            require(i >= 0 && i < v, "embedding: index \(i) out of range for weight \(weight.shape)")
            return Int32(i)
        }
        let out = Tensor(uninitializedShape: indexShape + [d])
        idx.withUnsafeBufferPointer {
            Runtime.backend.gatherRows(weight.ptr, width: d, indices: $0.baseAddress!, count: idx.count, out.storage.base)
        }
        guard needsGraph(weight) else { return out }
        return out.recorded("embedding", [weight]) { g, _ in
            let dw = Tensor.zeros([v, d])
            idx.withUnsafeBufferPointer {
                Runtime.backend.scatterAddRows(g.ptr, width: d, indices: $0.baseAddress!, count: idx.count, dw.storage.base)
            }
            return [dw]
        }
    }
}
