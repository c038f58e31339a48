// log(1 − eˣ), the one primitive the preference losses need beyond the core
// set (ORPO's log-odds), computed stably with its derivative beside it.

import Foundation

extension Tensor {
    /// log(1 − eˣ) elementwise for x ≤ 0 (NaN for x > 0, −∞ at x = 0).
    ///
    /// Stable over the whole range (Mächler's "log1mexp"): log(−expm1(x)) for
    /// −ln 2 < x ≤ 0, where 1 − eˣ would cancel (x = −1e-5 gives −11.513 to full
    /// precision), and log1p(−eˣ) below, where eˣ is small. Pullback:
    /// dy · d/dx log(1 − eˣ) = −dy / expm1(−x).
    public func log1mexp() -> Tensor {
        let y = Tensor(uninitializedShape: shape)
        let n = count, x = ptr, out = y.storage.base
        for i in 0..<n { out[i] = Tensor.log1mexpScalar(x[i]) }
        guard Tensor.needsGraph(self) else { return y }
        let xd = detached()
        return y.recorded("log1mexp", [self]) { g, _ in
            let dx = Tensor(uninitializedShape: xd.shape)
            let xs = xd.ptr, gs = g.ptr, d = dx.storage.base
            for i in 0..<xd.count { d[i] = -gs[i] / Foundation.expm1(-xs[i]) }
            return [dx]
        }
    }

    /// log(1 − eˣ) for one value, branching at −ln 2.
    @inline(__always) static func log1mexpScalar(_ x: Float) -> Float {
        x > -0.6931471805599453 ? Foundation.log(-Foundation.expm1(x)) : Foundation.log1p(-Foundation.exp(x))
    }
}
