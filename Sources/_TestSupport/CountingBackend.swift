// A Backend wrapper that counts GEMM calls and FLOPs before forwarding them.

import Anneal
import Synchronization

/// Forwards every kernel to `base`, counting GEMM calls and their FLOPs (2·m·n·k·batch).
public final class CountingBackend: Backend, @unchecked Sendable {
    public let base: Backend
    private let calls = Atomic<Int>(0), flops = Atomic<Int>(0)
    public init(_ base: Backend) { self.base = base }

    public var gemmCalls: Int { calls.load(ordering: .relaxed) }
    public var gemmFlops: Int { flops.load(ordering: .relaxed) }
    public func reset() { calls.store(0, ordering: .relaxed); flops.store(0, ordering: .relaxed) }

    public var name: String { "counting(\(base.name))" }
    public var threads: Int { get { base.threads } set { base.threads = newValue } }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int, batch: Int) {
        calls.add(1, ordering: .relaxed)
        flops.add(2 * m * n * k * batch, ordering: .relaxed)
        base.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, strideA: strideA,
                  b: b, ldb: ldb, strideB: strideB, beta: beta, c: c, ldc: ldc, strideC: strideC, batch: batch)
    }
    public func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        base.unary(op, x, y, count: count)
    }
    public func unaryBackward(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>, count: Int) {
        base.unaryBackward(op, x: x, y: y, dy: dy, dx: dx, count: count)
    }
    public func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, aStrides: [Int], _ b: UnsafePointer<Float>, bStrides: [Int],
                       _ out: UnsafeMutablePointer<Float>, shape: [Int]) {
        base.binary(op, a, aStrides: aStrides, b, bStrides: bStrides, out, shape: shape)
    }
    public func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
                       _ out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        base.reduce(op, x, outer: outer, length: length, inner: inner, out, argmax: argmax)
    }
    public func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        base.permute(x, shape: shape, perm: perm, y)
    }
    public func gatherRows(_ table: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>, count: Int,
                           _ out: UnsafeMutablePointer<Float>) {
        base.gatherRows(table, width: width, indices: indices, count: count, out)
    }
    public func scatterAddRows(_ src: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>, count: Int,
                               _ table: UnsafeMutablePointer<Float>) {
        base.scatterAddRows(src, width: width, indices: indices, count: count, table)
    }
    public func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, log: Bool, causal: Bool) {
        base.softmax(x, y, rows: rows, cols: cols, log: log, causal: causal)
    }
    public func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                rows: Int, cols: Int, log: Bool) {
        base.softmaxBackward(y: y, dy: dy, dx: dx, rows: rows, cols: cols, log: log)
    }
    public func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                          rows: Int, cols: Int, eps: Float) {
        base.layerNorm(x, weight: weight, bias: bias, y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: eps)
    }
    public func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, mean: UnsafePointer<Float>,
                                  rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                  dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?, rows: Int, cols: Int) {
        base.layerNormBackward(x: x, weight: weight, mean: mean, rstd: rstd, dy: dy, dx: dx, dweight: dweight, dbias: dbias,
                               rows: rows, cols: cols)
    }
    public func crossEntropy(_ logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
                             losses: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>) {
        base.crossEntropy(logits, targets: targets, rows: rows, cols: cols, losses: losses, probs: probs)
    }
    public func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, _ b: UnsafeMutablePointer<Float>, nrhs: Int) throws {
        try base.choleskySolve(a, n: n, b, nrhs: nrhs)
    }
    public func leastSquares(_ a: UnsafePointer<Float>, m: Int, n: Int, _ b: UnsafePointer<Float>, nrhs: Int,
                             _ x: UnsafeMutablePointer<Float>) throws {
        try base.leastSquares(a, m: m, n: n, b, nrhs: nrhs, x)
    }
    public func symmetricEigen(_ a: UnsafePointer<Float>, n: Int, values: UnsafeMutablePointer<Float>,
                               vectors: UnsafeMutablePointer<Float>) throws {
        try base.symmetricEigen(a, n: n, values: values, vectors: vectors)
    }
}
