// Vectorised transcendental functions on SIMD8<Float> (AVX2 when built with
// -target-cpu haswell): exp, erf and tanh, accurate to a few ulp (erf to
// 1.5e-7 absolute), used by the elementwise and softmax kernels.

import Foundation

@usableFromInline
enum SIMDMath {
    typealias V = SIMD8<Float>

    /// eˣ: x = n·ln2 + r with |r| ≤ ln2/2, eʳ by a degree-6 polynomial
    /// (Cephes expf coefficients), scaled by 2ⁿ through the exponent bits.
    /// Underflows to 0 below −87.3 and overflows to +∞ above 88.7.
    @inline(__always)
    static func exp(_ x0: V) -> V {
        // No clamp here: pointwiseMin/Max (NaN-aware) compile to scalar code and
        // cost 4× the whole polynomial. Out-of-range lanes are fixed up below.
        // Every step is a fused multiply-add (`addingProduct`, vfmadd on AVX2).
        let x = x0
        // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
        let magic = V(repeating: 12582912)
        let shifted = magic.addingProduct(x, V(repeating: 1.44269504088896341))
        let n = shifted - magic
        var r = x.addingProduct(n, V(repeating: -0.693359375))
        r = r.addingProduct(n, V(repeating: 2.12194440e-4))
        var p = V(repeating: 1.3981999507e-3).addingProduct(V(repeating: 1.9875691500e-4), r)
        p = V(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = V(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = V(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = V(repeating: 5.0000001201e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let bits = (ni &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23)
        var result = p * unsafeBitCast(bits, to: V.self)
        result.replace(with: V(repeating: .infinity), where: x0 .> V(repeating: 88.72283))
        result.replace(with: V(repeating: 0), where: x0 .< V(repeating: -87.33654))
        result.replace(with: x0, where: x0 .!= x0)   // NaN stays NaN
        return result
    }

    /// erf(x) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), odd-extended.
    @inline(__always)
    static func erf(_ x: V) -> V { erfAndGaussian(x).erf }

    /// erf(x) and e^(−x²), which the A&S formula computes anyway (GELU's
    /// derivative needs both: Φ(v) = ½(1 + erf(v/√2)), φ(v) ∝ e^(−v²/2)).
    @inline(__always)
    static func erfAndGaussian(_ x: V) -> (erf: V, gaussian: V) {
        let a: V = vabs(x)
        let one = V(repeating: 1)
        let t: V = one / one.addingProduct(V(repeating: 0.3275911), a)
        var p = V(repeating: -1.453152027).addingProduct(V(repeating: 1.061405429), t)
        p = V(repeating: 1.421413741).addingProduct(p, t)
        p = V(repeating: -0.284496736).addingProduct(p, t)
        p = V(repeating: 0.254829592).addingProduct(p, t)
        let negSquare: V = -(a * a)
        let e: V = SIMDMath.exp(negSquare)
        let y: V = one.addingProduct(-(p * t), e)
        return (y.replacing(with: -y, where: x .< V()), e)
    }

    /// tanh x = 1 − 2/(e^{2x} + 1), with the series x − x³/3 + 2x⁵/15 − 17x⁷/315 for |x| < 0.125.
    @inline(__always)
    static func tanh(_ x: V) -> V {
        let one = V(repeating: 1)
        let e2: V = SIMDMath.exp(x + x)
        var r: V = one - V(repeating: 2) / (e2 + one)
        let x2: V = x * x
        var poly: V = x2 * V(repeating: -17.0 / 315) + V(repeating: 2.0 / 15)
        poly = x2 * poly + V(repeating: -1.0 / 3)
        poly = x2 * poly + one
        let series: V = x * poly
        r.replace(with: series, where: vabs(x) .< V(repeating: 0.125))
        return r
    }

    /// |x| lanewise.
    @inline(__always)
    static func vabs(_ x: V) -> V { x.replacing(with: -x, where: x .< V()) }

    /// σ(x) = 1/(1 + e⁻ˣ) (exact 0 and 1 in the far tails).
    @inline(__always)
    static func sigmoid(_ x: V) -> V {
        let one = V(repeating: 1)
        return one / (one + SIMDMath.exp(-x))
    }

    /// y[i] = f(x[i]) over n elements, eight at a time; the tail goes through
    /// the same vector code so every element is computed identically.
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: V.self)
            i += 8
        }
        if i < n {
            var v = V()
            for j in 0..<(n - i) { v[j] = x[i + j] }
            let r = f(v)
            for j in 0..<(n - i) { y[i + j] = r[j] }
        }
    }

    /// dx[i] = f(x[i], dy[i]) over n elements (vectorised as `map`).
    @inline(__always)
    static func map2(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int,
                     _ f: (V, V) -> V) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let g = UnsafeRawPointer(dy + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: f(v, g), as: V.self)
            i += 8
        }
        if i < n {
            var v = V(), g = V()
            for j in 0..<(n - i) { v[j] = x[i + j]; g[j] = dy[i + j] }
            let r = f(v, g)
            for j in 0..<(n - i) { dx[i + j] = r[j] }
        }
    }
}
