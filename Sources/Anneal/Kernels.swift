// Single-threaded kernel bodies on raw pointers. Each unary function's
// derivative sits beside it: `unary` computes f, `unaryBackward` dy·f′.

import Foundation

@usableFromInline
enum Kernels {
    static let sqrt2OverPi: Float = 0.7978845608028654
    static let invSqrt2: Float = 0.7071067811865476
    static let invSqrt2Pi: Float = 0.3989422804014327

    /// Numerically stable logistic σ(x).
    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    /// log σ(x) = min(x, 0) − log1p(e^(−|x|)), finite for every x.
    @inline(__always) static func logSigmoid(_ x: Float) -> Float {
        Swift.min(x, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(x)))
    }

    // MARK: Unary ops and their derivatives

    @inline(__always)
    static func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .neg: for i in 0..<n { y[i] = -x[i] }
        case .exp: expLoop(x, y, n)
        case .log: for i in 0..<n { y[i] = Foundation.log(x[i]) }
        case .sqrt: for i in 0..<n { y[i] = x[i].squareRoot() }
        case .tanh: tanhLoop(x, y, n)
        case .sigmoid: sigmoidLoop(x, y, n)
        case .relu: for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
        case .logSigmoid: for i in 0..<n { y[i] = logSigmoid(x[i]) }
        case .silu: siluLoop(x, y, n)
        case .abs: for i in 0..<n { y[i] = Swift.abs(x[i]) }
        case .geluTanh: geluTanhLoop(x, y, n)
        case .geluErf: geluErfLoop(x, y, n)
        case .pow(let p):
            if p == 2 { for i in 0..<n { y[i] = x[i] * x[i] } } else { for i in 0..<n { y[i] = Foundation.pow(x[i], p) } }
        case .scale(let s): for i in 0..<n { y[i] = s * x[i] }
        case .addScalar(let s): for i in 0..<n { y[i] = x[i] + s }
        case .clamp(let lo, let hi): for i in 0..<n { y[i] = Swift.min(Swift.max(x[i], lo), hi) }
        }
    }

    @inline(__always)
    static func unaryBackward(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                              _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .neg: for i in 0..<n { dx[i] = -dy[i] }
        case .exp: for i in 0..<n { dx[i] = dy[i] * y[i] }
        case .log: for i in 0..<n { dx[i] = dy[i] / x[i] }
        case .sqrt: for i in 0..<n { dx[i] = dy[i] * 0.5 / y[i] }
        case .tanh: for i in 0..<n { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        case .sigmoid: for i in 0..<n { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        case .relu: for i in 0..<n { dx[i] = x[i] > 0 ? dy[i] : 0 }
        case .logSigmoid: for i in 0..<n { dx[i] = dy[i] * sigmoid(-x[i]) }
        case .silu: siluBackwardLoop(x, dy, dx, n)
        case .abs: for i in 0..<n { dx[i] = x[i] > 0 ? dy[i] : (x[i] < 0 ? -dy[i] : 0) }
        case .geluTanh: geluTanhBackwardLoop(x, dy, dx, n)
        case .geluErf: geluErfBackwardLoop(x, dy, dx, n)
        case .pow(let p):
            if p == 2 { for i in 0..<n { dx[i] = dy[i] * 2 * x[i] } } else {
                for i in 0..<n { dx[i] = dy[i] * p * Foundation.pow(x[i], p - 1) }
            }
        case .scale(let s): for i in 0..<n { dx[i] = dy[i] * s }
        case .addScalar: for i in 0..<n { dx[i] = dy[i] }
        case .clamp(let lo, let hi): for i in 0..<n { dx[i] = (x[i] >= lo && x[i] <= hi) ? dy[i] : 0 }
        }
    }

    // MARK: Vectorised unary loops
    // One small out-of-line function per function of x, so that LLVM inlines
    // the SIMDMath polynomial into the loop (inside the big switches above it
    // stays a call per 8 lanes, with the vector split across two registers).

    typealias V = SIMD8<Float>

    /// y = e^(x − shift).
    @inline(never)
    static func expLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, minus shift: Float = 0) {
        let s = V(repeating: shift)
        SIMDMath.map(x, y, n) { SIMDMath.exp($0 - s) }
    }

    @inline(never)
    static func tanhLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map(x, y, n, SIMDMath.tanh)
    }

    @inline(never)
    static func sigmoidLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map(x, y, n, SIMDMath.sigmoid)
    }

    /// SiLU x·σ(x).
    @inline(never)
    static func siluLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map(x, y, n) { $0 * SIMDMath.sigmoid($0) }
    }

    /// d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x))).
    @inline(never)
    static func siluBackwardLoop(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                 _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map2(x, dy, dx, n) { v, g in
            let s = SIMDMath.sigmoid(v)
            return g * s * (1 + v * (1 - s))
        }
    }

    /// ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³).
    @inline(never)
    static func geluTanhLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map(x, y, n) { v in 0.5 * v * (1 + SIMDMath.tanh(sqrt2OverPi * (v + 0.044715 * v * v * v))) }
    }

    /// ½(1 + tanh u) + ½x(1 − tanh²u)·u′, u′ = √(2/π)(1 + 3·0.044715x²).
    @inline(never)
    static func geluTanhBackwardLoop(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                     _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map2(x, dy, dx, n) { v, g in
            let t = SIMDMath.tanh(sqrt2OverPi * (v + 0.044715 * v * v * v))
            let du = sqrt2OverPi * (1 + 3 * 0.044715 * v * v)
            return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du)
        }
    }

    /// x·Φ(x) = ½x(1 + erf(x/√2)).
    @inline(never)
    static func geluErfLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map(x, y, n) { v in
            let h = 0.5 * v
            return h.addingProduct(h, SIMDMath.erf(v * invSqrt2))
        }
    }

    /// Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
    @inline(never)
    static func geluErfBackwardLoop(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        SIMDMath.map2(x, dy, dx, n) { v, g in
            let (e, gauss) = SIMDMath.erfAndGaussian(v * invSqrt2)   // gauss = e^(−v²/2)
            let half = V(repeating: 0.5)
            let cdf = half.addingProduct(half, e)
            return g * cdf.addingProduct(v * invSqrt2Pi, gauss)
        }
    }

    // MARK: Binary

    @inline(__always)
    static func binaryLoop(_ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                           _ out: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Float, Float) -> Float) {
        if sa == 1 && sb == 1 { for i in 0..<n { out[i] = f(a[i], b[i]) } }
        else if sa == 1 && sb == 0 { let v = b[0]; for i in 0..<n { out[i] = f(a[i], v) } }
        else if sa == 0 && sb == 1 { let u = a[0]; for i in 0..<n { out[i] = f(u, b[i]) } }
        else { for i in 0..<n { out[i] = f(a[i * sa], b[i * sb]) } }
    }

    @inline(__always)
    static func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                       _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .add: binaryLoop(a, sa, b, sb, out, n) { $0 + $1 }
        case .sub: binaryLoop(a, sa, b, sb, out, n) { $0 - $1 }
        case .mul: binaryLoop(a, sa, b, sb, out, n) { $0 * $1 }
        case .div: binaryLoop(a, sa, b, sb, out, n) { $0 / $1 }
        case .maximum: binaryLoop(a, sa, b, sb, out, n) { $0 >= $1 ? $0 : $1 }
        case .minimum: binaryLoop(a, sa, b, sb, out, n) { $0 <= $1 ? $0 : $1 }
        case .equal: binaryLoop(a, sa, b, sb, out, n) { $0 == $1 ? 1 : 0 }
        case .less: binaryLoop(a, sa, b, sb, out, n) { $0 < $1 ? 1 : 0 }
        case .lessEqual: binaryLoop(a, sa, b, sb, out, n) { $0 <= $1 ? 1 : 0 }
        case .greater: binaryLoop(a, sa, b, sb, out, n) { $0 > $1 ? 1 : 0 }
        case .greaterEqual: binaryLoop(a, sa, b, sb, out, n) { $0 >= $1 ? 1 : 0 }
        }
    }

    // MARK: Reductions

    /// Reduces x [length, inner] along its first axis into out [inner].
    @inline(__always)
    static func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, length: Int, inner: Int,
                       _ out: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>?) {
        switch op {
        case .sum, .mean:
            if inner == 1 {
                out[0] = sum(x, length)
            } else if length == 0 {
                out.update(repeating: 0, count: inner)
            } else {
                out.update(from: x, count: inner)
                for l in 1..<length {
                    let row = x + l * inner
                    for j in 0..<inner { out[j] += row[j] }
                }
            }
            if op == .mean {
                let s = 1 / Float(length)
                for j in 0..<inner { out[j] *= s }
            }
        case .max:
            for j in 0..<inner {
                // The first maximal element wins; a NaN propagates.
                var best = length > 0 ? x[j] : -Float.infinity, at = 0
                for l in 1..<Swift.max(length, 1) {
                    let v = x[l * inner + j]
                    if v > best || (v.isNaN && !best.isNaN) { best = v; at = l }
                }
                out[j] = best
                argmax?[j] = Int32(at)
            }
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Σ a[i]·b[i] (eight partial sums).
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n { acc += load(a, i) * load(b, i); i += 8 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Σ (x[i] − c)² (eight partial sums).
    static func sumOfSquares(_ x: UnsafePointer<Float>, minus c: Float, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        let cv = SIMD8<Float>(repeating: c)
        var i = 0
        while i + 8 <= n { let d = load(x, i) - cv; acc += d * d; i += 8 }
        var s = acc.sum()
        while i < n { let d = x[i] - c; s += d * d; i += 1 }
        return s
    }

    /// The largest of x[0..<n], skipping NaN (−∞ when n = 0 or all are NaN).
    static func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n { let v = load(x, i); acc.replace(with: v, where: v .> acc); i += 8 }
        var m = -Float.infinity
        for j in 0..<8 where acc[j] > m { m = acc[j] }
        while i < n { if x[i] > m { m = x[i] }; i += 1 }
        return m
    }

    /// Σ x[i] with eight independent accumulators (vectorises; rounding differs
    /// slightly from a sequential sum).
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    // MARK: Layout

    /// y = x with axes permuted (y's axis i is x's axis perm[i]).
    static func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        let n = shape.reduce(1, *)
        if n == 0 { return }
        let xStrides = Shape.contiguousStrides(shape)
        let outShape = perm.map { shape[$0] }
        let srcStrides = perm.map { xStrides[$0] }   // stride in x for each y axis
        if rank == 0 { y[0] = x[0]; return }
        let last = outShape[rank - 1], sLast = srcStrides[rank - 1]
        let outer = n / last
        var idx = [Int](repeating: 0, count: rank)
        var off = 0
        for o in 0..<outer {
            let dst = y + o * last
            if sLast == 1 { dst.update(from: x + off, count: last) }
            else { for j in 0..<last { dst[j] = x[off + j * sLast] } }
            // advance the multi-index over all axes but the last
            var axis = rank - 2
            while axis >= 0 {
                idx[axis] += 1; off += srcStrides[axis]
                if idx[axis] < outShape[axis] { break }
                off -= srcStrides[axis] * outShape[axis]; idx[axis] = 0
                axis -= 1
            }
        }
    }

    // MARK: Softmax

    /// Softmax (or log-softmax) of the first `visible` entries of a row; the
    /// rest get 0 (log: −∞).
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, visible: Int, cols: Int, log: Bool) {
        let m = maximum(x, visible)
        expLoop(x, y, visible, minus: m)
        let s = sum(y, visible)
        if log {
            let lse = m + Foundation.log(s)
            for j in 0..<visible { y[j] = x[j] - lse }
            for j in visible..<cols { y[j] = -.infinity }
        } else {
            let inv = 1 / s
            for j in 0..<visible { y[j] *= inv }
            for j in visible..<cols { y[j] = 0 }
        }
    }

    @inline(__always)
    static func softmaxBackwardRow(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                   cols: Int, log: Bool) {
        if log {
            let s = sum(dy, cols)
            expLoop(y, dx, cols)
            for j in 0..<cols { dx[j] = dy[j] - dx[j] * s }
        } else {
            let s = dot(dy, y, cols)
            for j in 0..<cols { dx[j] = y[j] * (dy[j] - s) }
        }
    }

    // MARK: Layer norm

    @inline(__always)
    static func layerNormRow(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?,
                             _ y: UnsafeMutablePointer<Float>, _ mean: inout Float, _ rstd: inout Float,
                             cols: Int, eps: Float) {
        let mu = sum(x, cols) / Float(cols)
        let v = sumOfSquares(x, minus: mu, cols)
        let r = 1 / (v / Float(cols) + eps).squareRoot()
        mean = mu; rstd = r
        switch (w, b) {
        case let (w?, b?): for j in 0..<cols { y[j] = (x[j] - mu) * r * w[j] + b[j] }
        case let (w?, nil): for j in 0..<cols { y[j] = (x[j] - mu) * r * w[j] }
        case let (nil, b?): for j in 0..<cols { y[j] = (x[j] - mu) * r + b[j] }
        case (nil, nil): for j in 0..<cols { y[j] = (x[j] - mu) * r }
        }
    }

    /// dx = rstd·(g − mean(g) − x̂·mean(g⊙x̂)) with g = dy⊙w and x̂ the normalised input.
    @inline(__always)
    static func layerNormBackwardRow(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ mean: Float, _ rstd: Float,
                                     _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?,
                                     _ dw: UnsafeMutablePointer<Float>?, _ db: UnsafeMutablePointer<Float>?, cols: Int) {
        if dw != nil || db != nil {
            for j in 0..<cols {
                if let dw { dw[j] += dy[j] * (x[j] - mean) * rstd }
                if let db { db[j] += dy[j] }
            }
        }
        guard let dx else { return }
        // Σg and Σg·x̂ with eight partial sums each (g = dy⊙w, x̂ = (x − mean)·rstd).
        let meanV = V(repeating: mean), rstdV = V(repeating: rstd)
        var gAcc = V(), gxAcc = V()
        var j = 0
        while j + 8 <= cols {
            let xh = (load(x, j) - meanV) * rstdV
            let g = w.map { load(dy, j) * load($0, j) } ?? load(dy, j)
            gAcc += g; gxAcc += g * xh
            j += 8
        }
        var gMean = gAcc.sum(), gxMean = gxAcc.sum()
        while j < cols {
            let xh = (x[j] - mean) * rstd, g = dy[j] * (w?[j] ?? 1)
            gMean += g; gxMean += g * xh
            j += 1
        }
        gMean /= Float(cols); gxMean /= Float(cols)
        if let w {
            for j in 0..<cols { dx[j] = rstd * (dy[j] * w[j] - gMean - (x[j] - mean) * rstd * gxMean) }
        } else {
            for j in 0..<cols { dx[j] = rstd * (dy[j] - gMean - (x[j] - mean) * rstd * gxMean) }
        }
    }

    // MARK: Cross-entropy

    /// Returns logsumexp(x) − x[t] (0 if t < 0) and writes softmax(x) to p.
    @inline(__always)
    static func crossEntropyRow(_ x: UnsafePointer<Float>, _ t: Int, _ p: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        let m = maximum(x, cols)
        expLoop(x, p, cols, minus: m)
        let s = sum(p, cols)
        let inv = 1 / s
        for j in 0..<cols { p[j] *= inv }
        return t < 0 ? 0 : m + Foundation.log(s) - x[t]
    }
}
