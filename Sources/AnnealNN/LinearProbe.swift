// Closed-form linear probe: a ridge-regression classification head on frozen
// features, solved by Cholesky on the current backend (LAPACKE sposv on
// OpenBLAS, plain Swift on the reference backend).

import Anneal
import Foundation

/// Ridge regression onto one-hot targets, as a Linear head.
public enum RidgeProbe {
    /// Fits W [F, C] and b [C] minimising ‖X·W + 1·bᵀ − Y‖² + λ‖W‖² for
    /// features X [N, F] and one-hot targets Y [N, C] (Y[i, labels[i]] = 1).
    ///
    /// With X̃ = [X, 1] [N, F+1] the normal equations are
    /// (X̃ᵀX̃ + λ·diag(1, …, 1, 0))·W̃ = X̃ᵀY (the bias is not penalised): X̃ᵀX̃
    /// and X̃ᵀY are GEMMs, the solve is the backend's `choleskySolve`. The
    /// system is positive definite for any λ > 0. Returns a Linear(F, C) with
    /// weight W̃[0..<F]ᵀ and bias W̃[F]; predict with argmax of its output.
    /// Throws `LinearAlgebraError` if the factorisation fails (λ = 0 with
    /// collinear features).
    public static func fit(features x: Tensor, labels: [Int], classCount: Int, lambda: Float) throws -> Linear {
        require(x.rank == 2 && x.shape[0] == labels.count && x.shape[0] > 0,
                "RidgeProbe.fit: features \(x.shape) vs \(labels.count) labels")
        require(lambda >= 0, "RidgeProbe.fit: λ must be ≥ 0, got \(lambda)")
        require(labels.allSatisfy { (0..<classCount).contains($0) }, "RidgeProbe.fit: a label is outside 0..<\(classCount)")
        let (n, f, c) = (x.shape[0], x.shape[1], classCount)
        let features = x.detached()
        var oneHot = [Float](repeating: 0, count: n * c)                    // Y [N, C]
        for (i, label) in labels.enumerated() { oneHot[i * c + label] = 1 }
        let y = Tensor(shape: [n, c], oneHot)
        let (gram, cross, columnSums) = Runtime.withNoGrad {
            (Tensor.matmul(features, features, transposeA: true),            // XᵀX [F, F]
             Tensor.matmul(features, y, transposeA: true),                   // XᵀY [F, C]
             features.sum(axis: 0))                                          // Xᵀ1 [F]
        }
        let classCounts = y.sum(axis: 0)                                     // 1ᵀY [C]
        let d = f + 1
        var a = [Float](repeating: 0, count: d * d)                          // X̃ᵀX̃ + λI′ [F+1, F+1]
        var b = [Float](repeating: 0, count: d * c)                          // X̃ᵀY [F+1, C]
        gram.withUnsafeBufferPointer { g in
            columnSums.withUnsafeBufferPointer { s in
                for i in 0..<f {
                    for j in 0..<f { a[i * d + j] = g[i * f + j] }
                    a[i * d + i] += lambda
                    a[i * d + f] = s[i]
                    a[f * d + i] = s[i]
                }
            }
        }
        a[f * d + f] = Float(n)
        cross.withUnsafeBufferPointer { xy in
            classCounts.withUnsafeBufferPointer { counts in
                for i in 0..<f { for j in 0..<c { b[i * c + j] = xy[i * c + j] } }
                for j in 0..<c { b[f * c + j] = counts[j] }
            }
        }
        try a.withUnsafeMutableBufferPointer { ap in
            try b.withUnsafeMutableBufferPointer { bp in
                try Runtime.backend.choleskySolve(ap.baseAddress!, n: d, bp.baseAddress!, nrhs: c)
            }
        }
        var weight = [Float](repeating: 0, count: c * f)                    // W̃[0..<F]ᵀ [C, F]
        for i in 0..<f { for j in 0..<c { weight[j * f + i] = b[i * c + j] } }
        let head = Linear(f, c)
        head.weight.assign(Tensor(shape: [c, f], weight))
        head.bias!.assign(Tensor(shape: [c], Array(b[(f * c)...])))
        return head
    }
}
