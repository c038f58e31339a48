// A Backend wrapper that reports every kernel call (name, wall time, FLOPs,
// bytes) to an observer before returning. Counting, timing and profiling
// are observers; with no wrapper installed nothing is measured at all.

import Foundation

/// One kernel call as seen by `ObservedBackend`.
public struct KernelEvent: Sendable {
    /// Kernel name: "gemm", "unary.exp", "binary.add", "softmax", …
    public let name: String
    /// Start and end, in nanoseconds of `DispatchTime` uptime.
    public let start: UInt64, end: UInt64
    /// Floating-point operations by the documented rule: gemm 2·m·n·k per
    /// batch item; elementwise and reductions 1 per output element read or
    /// written (transcendentals too); softmax 5, layer norm 8 and
    /// cross-entropy 5 per element; layout ops 0.
    public let flops: Int
    /// Bytes read and written (Float32 elements × 4).
    public let bytesRead: Int, bytesWritten: Int
    /// Operand shapes, e.g. "m=256 n=1024 k=784 batch=1 tA=0 tB=1".
    public let detail: String
    /// Seconds spent.
    public var seconds: Double { Double(end &- start) * 1e-9 }
}

/// Receives kernel events (called on the thread that ran the kernel).
public protocol KernelObserver: AnyObject, Sendable {
    func record(_ event: KernelEvent)
}

/// Forwards every kernel to `base` and reports it to `observer`.
public final class ObservedBackend: Backend, @unchecked Sendable {
    public let base: Backend
    public let observer: KernelObserver

    public init(_ base: Backend, observer: KernelObserver) { self.base = base; self.observer = observer }

    public var name: String { base.name }
    public var threads: Int { get { base.threads } set { base.threads = newValue } }

    @inline(__always)
    func observe(_ name: String, flops: Int, read: Int, written: Int, _ detail: @autoclosure () -> String, _ body: () throws -> Void) rethrows {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        let t1 = DispatchTime.now().uptimeNanoseconds
        observer.record(KernelEvent(name: name, start: t0, end: t1, flops: flops, bytesRead: read * 4, bytesWritten: written * 4,
                                    detail: detail()))
    }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int, batch: Int) {
        observe("gemm", flops: 2 * m * n * k * batch, read: (m * k + k * n + (beta == 0 ? 0 : m * n)) * batch,
                written: m * n * batch, "m=\(m) n=\(n) k=\(k) batch=\(batch) tA=\(transA ? 1 : 0) tB=\(transB ? 1 : 0)") {
            base.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, strideA: strideA,
                      b: b, ldb: ldb, strideB: strideB, beta: beta, c: c, ldc: ldc, strideC: strideC, batch: batch)
        }
    }
    public func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        observe("unary.\(op)", flops: count, read: count, written: count, "n=\(count)") { base.unary(op, x, y, count: count) }
    }
    public func unaryBackward(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>, count: Int) {
        observe("unary_backward.\(op)", flops: 2 * count, read: 3 * count, written: count, "n=\(count)") {
            base.unaryBackward(op, x: x, y: y, dy: dy, dx: dx, count: count)
        }
    }
    public func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, aStrides: [Int], _ b: UnsafePointer<Float>, bStrides: [Int],
                       _ out: UnsafeMutablePointer<Float>, shape: [Int]) {
        let n = Shape.count(shape)
        observe("binary.\(op)", flops: n, read: 2 * n, written: n, "shape=\(shape)") {
            base.binary(op, a, aStrides: aStrides, b, bStrides: bStrides, out, shape: shape)
        }
    }
    public func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
                       _ out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        let n = outer * length * inner
        observe("reduce.\(op)", flops: n, read: n, written: outer * inner, "outer=\(outer) length=\(length) inner=\(inner)") {
            base.reduce(op, x, outer: outer, length: length, inner: inner, out, argmax: argmax)
        }
    }
    public func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        let n = Shape.count(shape)
        observe("permute", flops: 0, read: n, written: n, "shape=\(shape) perm=\(perm)") { base.permute(x, shape: shape, perm: perm, y) }
    }
    public func gatherRows(_ table: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>, count: Int,
                           _ out: UnsafeMutablePointer<Float>) {
        observe("gather_rows", flops: 0, read: count * width, written: count * width, "rows=\(count) width=\(width)") {
            base.gatherRows(table, width: width, indices: indices, count: count, out)
        }
    }
    public func scatterAddRows(_ src: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>, count: Int,
                               _ table: UnsafeMutablePointer<Float>) {
        observe("scatter_add_rows", flops: count * width, read: 2 * count * width, written: count * width,
                "rows=\(count) width=\(width)") {
            base.scatterAddRows(src, width: width, indices: indices, count: count, table)
        }
    }
    public func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, log: Bool, causal: Bool) {
        observe(log ? "log_softmax" : "softmax", flops: 5 * rows * cols, read: rows * cols, written: rows * cols,
                "rows=\(rows) cols=\(cols)\(causal ? " causal" : "")") {
            base.softmax(x, y, rows: rows, cols: cols, log: log, causal: causal)
        }
    }
    public func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                rows: Int, cols: Int, log: Bool) {
        observe(log ? "log_softmax_backward" : "softmax_backward", flops: 4 * rows * cols, read: 2 * rows * cols,
                written: rows * cols, "rows=\(rows) cols=\(cols)") {
            base.softmaxBackward(y: y, dy: dy, dx: dx, rows: rows, cols: cols, log: log)
        }
    }
    public func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                          rows: Int, cols: Int, eps: Float) {
        observe("layer_norm", flops: 8 * rows * cols, read: rows * cols + 2 * cols, written: rows * cols + 2 * rows,
                "rows=\(rows) cols=\(cols)") {
            base.layerNorm(x, weight: weight, bias: bias, y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: eps)
        }
    }
    public func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, mean: UnsafePointer<Float>,
                                  rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                  dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?, rows: Int, cols: Int) {
        observe("layer_norm_backward", flops: 12 * rows * cols, read: 2 * rows * cols, written: rows * cols,
                "rows=\(rows) cols=\(cols)") {
            base.layerNormBackward(x: x, weight: weight, mean: mean, rstd: rstd, dy: dy, dx: dx, dweight: dweight,
                                   dbias: dbias, rows: rows, cols: cols)
        }
    }
    public func crossEntropy(_ logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
                             losses: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>) {
        observe("cross_entropy", flops: 5 * rows * cols, read: rows * cols, written: rows * cols + rows, "rows=\(rows) cols=\(cols)") {
            base.crossEntropy(logits, targets: targets, rows: rows, cols: cols, losses: losses, probs: probs)
        }
    }
    public func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws {
        try observe("cholesky_solve", flops: n * n * n / 3 + 2 * n * n * nrhs, read: n * n + n * nrhs, written: n * nrhs, "n=\(n) nrhs=\(nrhs)") {
            try base.choleskySolve(a, n: n, b, nrhs: nrhs)
        }
    }
    public func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                             _ x: UnsafeMutablePointer<Float>) throws {
        try observe("least_squares", flops: 2 * m * n * n, read: m * n + m * nrhs, written: n * nrhs, "m=\(m) n=\(n) nrhs=\(nrhs)") {
            try base.leastSquares(a, m: m, n: n, b, nrhs: nrhs, x)
        }
    }
    public func symmetricEigen(_ a: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                               vectors: UnsafeMutablePointer<Float>) throws {
        try observe("symmetric_eigen", flops: 9 * n * n * n, read: n * n, written: n * n + n, "n=\(n)") {
            try base.symmetricEigen(a, n: n, values: values, vectors: vectors)
        }
    }
}

/// Counts GEMM calls and FLOPs and sums the time spent in each kernel name.
public final class KernelTally: KernelObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var _gemmCalls = 0, _gemmFlops = 0
    private var _seconds: [String: Double] = [:]

    public init() {}

    public func record(_ event: KernelEvent) {
        lock.lock(); defer { lock.unlock() }
        if event.name == "gemm" { _gemmCalls += 1; _gemmFlops += event.flops }
        _seconds[event.name, default: 0] += event.seconds
    }

    public var gemmCalls: Int { lock.withLock { _gemmCalls } }
    public var gemmFlops: Int { lock.withLock { _gemmFlops } }
    /// Seconds per kernel name.
    public var seconds: [String: Double] { lock.withLock { _seconds } }
    public func reset() { lock.withLock { _gemmCalls = 0; _gemmFlops = 0; _seconds = [:] } }
}
