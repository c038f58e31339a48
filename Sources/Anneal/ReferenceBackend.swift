// ReferenceBackend: pure Swift, no C. Its naive kernels are the oracle the
// fast paths are checked against; its gemm is a tuned cache-blocked SIMD
// kernel (or the naive loop, on request).

import Foundation

/// The pure-Swift backend. Builds and runs with no OpenBLAS at all.
public final class ReferenceBackend: SwiftKernels, Backend, @unchecked Sendable {
    /// Which GEMM the backend runs.
    public enum GemmKind: Sendable { case tuned, naive }
    /// `.tuned` (default): blocked SIMD micro-kernel on `threads` threads; `.naive`: triple loop.
    public var gemmKind: GemmKind

    public var name: String { gemmKind == .tuned ? "reference" : "reference-naive" }

    /// A reference backend using `threads` threads for gemm and large elementwise ops.
    public init(threads: Int = 1, gemm: GemmKind = .tuned) {
        gemmKind = gemm
        super.init(threads: threads, parallelThreshold: 1 << 16)
    }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, strideA: Int,
                     b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int, batch: Int) {
        let kind = gemmKind
        let one: (Int, Int) -> Void = { i, threads in
            let (ai, bi, ci) = (a + i * strideA, b + i * strideB, c + i * strideC)
            switch kind {
            case .tuned:
                ReferenceGemm.tuned(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                    a: ai, lda: lda, b: bi, ldb: ldb, beta: beta, c: ci, ldc: ldc, threads: threads)
            case .naive:
                ReferenceGemm.naive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                    a: ai, lda: lda, b: bi, ldb: ldb, beta: beta, c: ci, ldc: ldc)
            }
        }
        // Many small products: one thread per share of the batch.
        if batch >= threads && threads > 1 && m * n * k <= 128 * 128 * 128 {
            let parts = threads
            WorkerPool.shared.run(parts: parts) { p in
                for i in (batch * p / parts)..<(batch * (p + 1) / parts) { one(i, 1) }
            }
        } else {
            for i in 0..<batch { one(i, threads) }
        }
    }

    public func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws {
        try DenseLinearAlgebra.choleskySolve(a, n: n, b, nrhs: nrhs)
    }

    public func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                             _ x: UnsafeMutablePointer<Float>) throws {
        try DenseLinearAlgebra.leastSquares(a, m: m, n: n, b, nrhs: nrhs, x)
    }

    public func symmetricEigen(_ a: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                               vectors: UnsafeMutablePointer<Float>) throws {
        try DenseLinearAlgebra.jacobiEigen(a, n: n, values: values, vectors: vectors)
    }
}

/// Plain-Swift dense linear algebra (accumulating in Double).
enum DenseLinearAlgebra {
    /// A = L·Lᵀ in place (lower triangle), then forward and back substitution on B.
    static func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws {
        for j in 0..<n {
            var d = Double(a[j * n + j])
            for p in 0..<j { d -= Double(a[j * n + p]) * Double(a[j * n + p]) }
            guard d > 0, d.isFinite else {
                throw LinearAlgebraError("matrix is not positive definite (pivot \(j) is \(d))")
            }
            let l = d.squareRoot()
            a[j * n + j] = Float(l)
            for i in (j + 1)..<max(n, j + 1) {
                var s = Double(a[i * n + j])
                for p in 0..<j { s -= Double(a[i * n + p]) * Double(a[j * n + p]) }
                a[i * n + j] = Float(s / l)
            }
        }
        for r in 0..<nrhs {
            for i in 0..<n {                      // L y = b
                var s = Double(b[i * nrhs + r])
                for p in 0..<i { s -= Double(a[i * n + p]) * Double(b[p * nrhs + r]) }
                b[i * nrhs + r] = Float(s / Double(a[i * n + i]))
            }
            for i in stride(from: n - 1, through: 0, by: -1) {   // Lᵀ x = y
                var s = Double(b[i * nrhs + r])
                for p in (i + 1)..<max(n, i + 1) { s -= Double(a[p * n + i]) * Double(b[p * nrhs + r]) }
                b[i * nrhs + r] = Float(s / Double(a[i * n + i]))
            }
        }
    }

    /// Householder QR of A, then R x = Qᵀ b.
    static func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                             _ x: UnsafeMutablePointer<Float>) throws {
        guard m >= n else { throw LinearAlgebraError("least squares needs rows ≥ columns, got \(m)×\(n)") }
        var r = (0..<(m * n)).map { Double(a[$0]) }
        var y = (0..<(m * nrhs)).map { Double(b[$0]) }
        for j in 0..<n {
            var norm = 0.0
            for i in j..<m { norm += r[i * n + j] * r[i * n + j] }
            norm = norm.squareRoot()
            guard norm > 0 else { throw LinearAlgebraError("matrix is rank deficient (column \(j))") }
            let alpha = r[j * n + j] > 0 ? -norm : norm
            var v = [Double](repeating: 0, count: m)
            for i in j..<m { v[i] = r[i * n + j] }
            v[j] -= alpha
            var vv = 0.0
            for i in j..<m { vv += v[i] * v[i] }
            if vv == 0 { continue }
            for c in j..<n {
                var s = 0.0
                for i in j..<m { s += v[i] * r[i * n + c] }
                s = 2 * s / vv
                for i in j..<m { r[i * n + c] -= s * v[i] }
            }
            for c in 0..<nrhs {
                var s = 0.0
                for i in j..<m { s += v[i] * y[i * nrhs + c] }
                s = 2 * s / vv
                for i in j..<m { y[i * nrhs + c] -= s * v[i] }
            }
        }
        for c in 0..<nrhs {
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = y[i * nrhs + c]
                for p in (i + 1)..<max(n, i + 1) { s -= r[i * n + p] * Double(x[p * nrhs + c]) }
                guard r[i * n + i] != 0 else { throw LinearAlgebraError("matrix is rank deficient (column \(i))") }
                x[i * nrhs + c] = Float(s / r[i * n + i])
            }
        }
    }

    /// Cyclic Jacobi rotations until the off-diagonal mass is negligible;
    /// eigenvalues sorted ascending with their eigenvector columns.
    static func jacobiEigen(_ a0: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                            vectors: UnsafeMutablePointer<Float>) throws {
        var a = (0..<(n * n)).map { Double(a0[$0]) }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<max(n, p + 1) { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) where abs(a[p * n + q]) > 1e-300 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {   // A ← A·J
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {   // A ← Jᵀ·A
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] < a[$1 * n + $1] }
        for (col, src) in order.enumerated() {
            values[col] = Float(a[src * n + src])
            for k in 0..<n { vectors[k * n + col] = Float(v[k * n + src]) }
        }
    }
}
