// Plain-Swift kernels shared by both backends: elementwise, broadcasting,
// reductions, permutes, gathers and the fused softmax / layer-norm /
// cross-entropy kernels. Loops run on raw pointers (no ARC, no allocation) and
// split across threads above a size threshold when `threads > 1`.

import Foundation

/// A `Backend` whose non-GEMM kernels are written in Swift. `ReferenceBackend`
/// and `OpenBLASBackend` subclass it and supply gemm and linear algebra.
public class SwiftKernels: @unchecked Sendable {
    /// Worker threads for elementwise work (and for gemm in subclasses).
    public var threads: Int
    /// Elements below which an elementwise kernel stays on the calling thread.
    public var parallelThreshold: Int

    init(threads: Int, parallelThreshold: Int) {
        self.threads = max(1, threads)
        self.parallelThreshold = parallelThreshold
    }

    /// Runs `body(start, end)` over [0, count) in up to `threads` contiguous
    /// chunks; one chunk (this thread) when count·cost is below the threshold.
    @inline(__always)
    final func chunked(_ count: Int, cost: Int = 1, _ body: (Int, Int) -> Void) {
        let parts = (threads > 1 && count * cost >= parallelThreshold) ? min(threads, count) : 1
        if parts <= 1 { body(0, count); return }
        WorkerPool.shared.run(parts: parts) { p in body(count * p / parts, count * (p + 1) / parts) }
    }

    // MARK: Unary

    public func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        chunked(count, cost: op.cost) { lo, hi in Kernels.unary(op, x + lo, y + lo, hi - lo) }
    }

    public func unaryBackward(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                              dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        chunked(count, cost: op.cost) { lo, hi in
            Kernels.unaryBackward(op, x + lo, y + lo, dy + lo, dx + lo, hi - lo)
        }
    }

    // MARK: Binary with broadcasting

    public func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, aStrides: [Int],
                       _ b: UnsafePointer<Float>, bStrides: [Int],
                       _ out: UnsafeMutablePointer<Float>, shape: [Int]) {
        let n = shape.reduce(1, *)
        if n == 0 { return }
        let rank = shape.count
        let contiguous = Shape.contiguousStrides(shape)
        let aFull = aStrides == contiguous, bFull = bStrides == contiguous
        let aScalar = aStrides.allSatisfy { $0 == 0 }, bScalar = bStrides.allSatisfy { $0 == 0 }
        if rank == 0 || (aFull || aScalar) && (bFull || bScalar) {
            let sa = aFull ? 1 : 0, sb = bFull ? 1 : 0
            chunked(n) { lo, hi in Kernels.binary(op, a + lo * sa, sa, b + lo * sb, sb, out + lo, hi - lo) }
            return
        }
        // General case: loop over all outer index tuples, innermost axis as a strided run.
        let last = shape[rank - 1], sa = aStrides[rank - 1], sb = bStrides[rank - 1]
        let outer = n / last
        chunked(outer, cost: last) { lo, hi in
            for o in lo..<hi {
                var rem = o, offA = 0, offB = 0
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    let i = rem % shape[axis]; rem /= shape[axis]
                    offA += i * aStrides[axis]; offB += i * bStrides[axis]
                }
                Kernels.binary(op, a + offA, sa, b + offB, sb, out + o * last, last)
            }
        }
    }

    // MARK: Reductions

    public func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
                       _ out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        chunked(outer, cost: length * inner) { lo, hi in
            for o in lo..<hi {
                Kernels.reduce(op, x + o * length * inner, length: length, inner: inner,
                               out + o * inner, argmax.map { $0 + o * inner })
            }
        }
    }

    // MARK: Layout

    public func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        Kernels.permute(x, shape: shape, perm: perm, y)
    }

    public func gatherRows(_ table: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                           count: Int, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            (out + i * width).update(from: table + Int(indices[i]) * width, count: width)
        }
    }

    public func scatterAddRows(_ src: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                               count: Int, _ table: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let dst = table + Int(indices[i]) * width, s = src + i * width
            for j in 0..<width { dst[j] += s[j] }
        }
    }

    // MARK: Fused kernels

    public func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                        log: Bool, causal: Bool) {
        chunked(rows, cost: cols * 8) { lo, hi in
            for r in lo..<hi {
                let visible = causal ? (r % cols) + 1 : cols
                Kernels.softmaxRow(x + r * cols, y + r * cols, visible: visible, cols: cols, log: log)
            }
        }
    }

    public func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                rows: Int, cols: Int, log: Bool) {
        chunked(rows, cost: cols * 4) { lo, hi in
            for r in lo..<hi {
                Kernels.softmaxBackwardRow(y + r * cols, dy + r * cols, dx + r * cols, cols: cols, log: log)
            }
        }
    }

    public func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                          rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float) {
        chunked(rows, cost: cols * 4) { lo, hi in
            for r in lo..<hi {
                Kernels.layerNormRow(x + r * cols, weight, bias, y + r * cols, &mean[r], &rstd[r], cols: cols, eps: eps)
            }
        }
    }

    public func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                  mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                  dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                  dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                  rows: Int, cols: Int) {
        // dx rows are independent: split them across threads. The parameter
        // gradients accumulate across rows: threads take column ranges.
        if let dx {
            chunked(rows, cost: cols * 8) { lo, hi in
                for r in lo..<hi {
                    Kernels.layerNormBackwardRow(x + r * cols, weight, mean[r], rstd[r], dy + r * cols,
                                                 dx + r * cols, nil, nil, cols: cols)
                }
            }
        }
        guard dweight != nil || dbias != nil else { return }
        chunked(cols, cost: rows * 4) { lo, hi in
            for r in 0..<rows {
                let xr = x + r * cols, g = dy + r * cols, mu = mean[r], rs = rstd[r]
                if let dweight { for j in lo..<hi { dweight[j] += g[j] * (xr[j] - mu) * rs } }
                if let dbias { for j in lo..<hi { dbias[j] += g[j] } }
            }
        }
    }

    public func crossEntropy(_ logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, cols: Int,
                             losses: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>) {
        chunked(rows, cost: cols * 8) { lo, hi in
            for r in lo..<hi {
                losses[r] = Kernels.crossEntropyRow(logits + r * cols, Int(targets[r]), probs + r * cols, cols: cols)
            }
        }
    }
}

/// Lets a non-Sendable value cross to worker threads; the caller guarantees
/// the threads touch disjoint memory.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension UnaryOp {
    /// Rough relative cost per element, for the threading threshold.
    var cost: Int {
        switch self {
        case .neg, .abs, .relu, .scale, .addScalar, .clamp: 1
        default: 8
        }
    }
}
