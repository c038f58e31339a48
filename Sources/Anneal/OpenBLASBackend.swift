// OpenBLASBackend: GEMM through cblas_sgemm and linear algebra through
// LAPACKE; everything else is the shared Swift kernels, split across threads
// above a size threshold. The only file that sees C.

#if OpenBLAS
import COpenBLAS
import Foundation

/// The OpenBLAS-backed backend.
public final class OpenBLASBackend: SwiftKernels, Backend, @unchecked Sendable {
    public var name: String { "openblas" }

    /// OpenBLAS's kernel family for this CPU (`openblas_get_corename`), e.g. "Haswell".
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// A backend using `threads` threads: the shared worker pool splits GEMMs
    /// into bands and runs OpenBLAS single-threaded on each.
    public init(threads: Int) {
        super.init(threads: threads, parallelThreshold: 1 << 15)
        openblas_set_num_threads(1)
    }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, strideA: Int,
                     b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int, batch: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {   // BLAS leaves C·β; make β = 0 an exact clear
            for i in 0..<batch { for r in 0..<m {
                let row = c + i * strideC + r * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            } }
            return
        }
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        // C[rows, cols] (a block of rows or of columns of item i) with OpenBLAS single-threaded.
        let block: (_ i: Int, _ rows: Range<Int>, _ cols: Range<Int>) -> Void = { i, rows, cols in
            let ai = a + i * strideA + (transA ? rows.lowerBound : rows.lowerBound * lda)
            let bi = b + i * strideB + (transB ? cols.lowerBound * ldb : cols.lowerBound)
            cblas_sgemm(CblasRowMajor, ta, tb, /* m= */ Int32(rows.count), /* n= */ Int32(cols.count), /* k= */ Int32(k),
                        /* alpha= */ alpha, /* a= */ ai, /* lda= */ Int32(lda), /* b= */ bi, /* ldb= */ Int32(ldb),
                        /* beta= */ beta, /* c= */ c + i * strideC + rows.lowerBound * ldc + cols.lowerBound,
                        /* ldc= */ Int32(ldc))
        }
        // All threading is ours (OpenBLAS runs at one thread), on the pool the
        // other kernels use: no second pool competing for the cores.
        // Many small products (attention heads): threads take shares of the batch.
        let parts = threads
        if batch >= parts && parts > 1 && m * n * k <= Self.smallGemm {
            WorkerPool.shared.run(parts: parts) { p in
                for i in (batch * p / parts)..<(batch * (p + 1) / parts) { block(i, 0..<m, 0..<n) }
            }
            return
        }
        // Larger products: threads take bands of the longer side of C.
        for i in 0..<batch {
            if parts < 2 || m * n * k < Self.splitGemm {
                block(i, 0..<m, 0..<n)
            } else if m >= n {
                WorkerPool.shared.run(parts: parts) { p in block(i, (m * p / parts)..<(m * (p + 1) / parts), 0..<n) }
            } else {
                WorkerPool.shared.run(parts: parts) { p in block(i, 0..<m, (n * p / parts)..<(n * (p + 1) / parts)) }
            }
        }
    }

    /// m·n·k from which one product is split into bands across threads.
    static let splitGemm = 1 << 18

    /// m·n·k at or below which a batched GEMM is split across threads by batch item.
    static let smallGemm = 128 * 128 * 128

    public func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws {
        let info = LAPACKE_sposv(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), /* n= */ Int32(n), /* nrhs= */ Int32(nrhs),
                                 a, /* lda= */ Int32(n), b, /* ldb= */ Int32(nrhs))
        if info > 0 { throw LinearAlgebraError("matrix is not positive definite (leading minor \(info))") }
        if info < 0 { throw LinearAlgebraError("LAPACKE_sposv: bad argument \(-info)") }
    }

    public func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                             _ x: UnsafeMutablePointer<Float>) throws {
        guard m >= n else { throw LinearAlgebraError("least squares needs rows ≥ columns, got \(m)×\(n)") }
        var aw = Array(UnsafeBufferPointer(start: a, count: m * n))
        var bw = Array(UnsafeBufferPointer(start: b, count: m * nrhs))
        let info = LAPACKE_sgels(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "N")), Int32(m), Int32(n), Int32(nrhs),
                                 &aw, /* lda= */ Int32(n), &bw, /* ldb= */ Int32(nrhs))
        if info > 0 { throw LinearAlgebraError("matrix is rank deficient (diagonal \(info) of R is zero)") }
        if info < 0 { throw LinearAlgebraError("LAPACKE_sgels: bad argument \(-info)") }
        for i in 0..<(n * nrhs) { x[i] = bw[i] }
    }

    public func symmetricEigen(_ a: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                               vectors: UnsafeMutablePointer<Float>) throws {
        vectors.update(from: a, count: n * n)
        let info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "L")), Int32(n),
                                  vectors, /* lda= */ Int32(n), values)
        if info != 0 { throw LinearAlgebraError("LAPACKE_ssyevd failed to converge (info \(info))") }
    }
}

/// Raw OpenBLAS entry points for baselines (benchmarks compare against these).
public enum RawBLAS {
    /// Row-major cblas_sgemm with no transposes, C = A·B, threaded by
    /// OpenBLAS's own pool with `threads` threads (the backend keeps OpenBLAS
    /// at one thread otherwise).
    public static func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>, threads: Int = 1) {
        if threads > 1 { openblas_set_num_threads(Int32(threads)) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
        if threads > 1 { openblas_set_num_threads(1) }
    }
}
#endif
