// Elementwise ops (unary, binary with broadcasting, scalar forms) and their
// derivatives. Unary derivatives f′ live in the kernels (Kernels.swift, one
// case beside each f); binary ones are written here beside each op.

import Foundation

extension Tensor {
    // MARK: Unary

    /// y = f(x) elementwise; the pullback is dy·f′(x).
    public func unary(_ op: UnaryOp) -> Tensor {
        let backend = Runtime.backend
        let y = Tensor(uninitializedShape: shape)
        backend.unary(op, ptr, y.storage.base, count: count)
        guard Tensor.needsGraph(self) else { return y }
        let x = detached()
        return y.recorded(op.description, [self]) { g, _ in
            let dx = Tensor(uninitializedShape: x.shape)
            Runtime.backend.unaryBackward(op, x: x.ptr, y: y.ptr, dy: g.ptr, dx: dx.storage.base, count: x.count)
            return [dx]
        }
    }

    /// −x.
    public static prefix func - (x: Tensor) -> Tensor { x.unary(.neg) }
    /// eˣ.
    public func exp() -> Tensor { unary(.exp) }
    /// Natural logarithm.
    public func log() -> Tensor { unary(.log) }
    /// √x.
    public func sqrt() -> Tensor { unary(.sqrt) }
    /// tanh x.
    public func tanh() -> Tensor { unary(.tanh) }
    /// σ(x) = 1/(1 + e⁻ˣ).
    public func sigmoid() -> Tensor { unary(.sigmoid) }
    /// max(x, 0).
    public func relu() -> Tensor { unary(.relu) }
    /// log σ(x), computed stably.
    public func logSigmoid() -> Tensor { unary(.logSigmoid) }
    /// x·σ(x).
    public func silu() -> Tensor { unary(.silu) }
    /// |x|.
    public func abs() -> Tensor { unary(.abs) }
    /// GELU: exact (erf) by default, or the tanh approximation.
    public func gelu(approximate: Bool = false) -> Tensor { unary(approximate ? .geluTanh : .geluErf) }
    /// xᵖ for a constant exponent.
    public func pow(_ p: Float) -> Tensor { unary(.pow(p)) }
    /// x², as x·x.
    public func squared() -> Tensor { unary(.pow(2)) }
    /// min(max(x, lo), hi).
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor { unary(.clamp(lo, hi)) }

    // MARK: Binary

    /// z = a ∘ b with numpy broadcasting (no graph: the caller records).
    static func broadcastApply(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape: [Int]
        if a.shape == b.shape { shape = a.shape } else {
            guard let s = Shape.broadcast(a.shape, b.shape) else {
                fatalError("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
            }
            shape = s
        }
        let out = Tensor(uninitializedShape: shape)
        Runtime.backend.binary(op, a.ptr, aStrides: Shape.broadcastStrides(a.shape, to: shape),
                               b.ptr, bStrides: Shape.broadcastStrides(b.shape, to: shape),
                               out.storage.base, shape: shape)
        return out
    }

    /// a + b (broadcasting).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let z = broadcastApply(.add, a, b)
        guard needsGraph(a, b) else { return z }
        let (sa, sb) = (a.shape, b.shape)
        return z.recorded("add", [a, b]) { g, needs in
            [needs[0] ? g.unbroadcast(to: sa) : nil, needs[1] ? g.unbroadcast(to: sb) : nil]
        }
    }

    /// a − b (broadcasting).
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let z = broadcastApply(.sub, a, b)
        guard needsGraph(a, b) else { return z }
        let (sa, sb) = (a.shape, b.shape)
        return z.recorded("sub", [a, b]) { g, needs in
            [needs[0] ? g.unbroadcast(to: sa) : nil, needs[1] ? (-g).unbroadcast(to: sb) : nil]
        }
    }

    /// a ⊙ b (broadcasting).
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let z = broadcastApply(.mul, a, b)
        guard needsGraph(a, b) else { return z }
        let (ad, bd) = (a.detached(), b.detached())
        return z.recorded("mul", [a, b]) { g, needs in
            [needs[0] ? (g * bd).unbroadcast(to: ad.shape) : nil,
             needs[1] ? (g * ad).unbroadcast(to: bd.shape) : nil]
        }
    }

    /// a / b (broadcasting).
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let z = broadcastApply(.div, a, b)
        guard needsGraph(a, b) else { return z }
        let (ad, bd) = (a.detached(), b.detached())
        return z.recorded("div", [a, b]) { g, needs in
            [needs[0] ? (g / bd).unbroadcast(to: ad.shape) : nil,
             needs[1] ? (-(g * ad) / (bd * bd)).unbroadcast(to: bd.shape) : nil]
        }
    }

    /// Elementwise max(a, b); ties send the gradient to a.
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { selectBy(.greaterEqual, a, b) }
    /// Elementwise min(a, b); ties send the gradient to a.
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { selectBy(.lessEqual, a, b) }

    static func selectBy(_ cmp: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        let mask = broadcastApply(cmp, a, b)
        return Tensor.where(mask, a, b)
    }

    /// cond ? a : b elementwise (cond holds 1 or 0; all three broadcast).
    /// Composed as cond·a + (1 − cond)·b, so it needs no derivative of its own.
    public static func `where`(_ cond: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let c = cond.detached()
        return c * a + (1 - c) * b
    }

    /// 1 where a == b, else 0 (no gradient).
    public static func .== (a: Tensor, b: Tensor) -> Tensor { broadcastApply(.equal, a, b) }
    /// 1 where a < b, else 0 (no gradient).
    public static func .< (a: Tensor, b: Tensor) -> Tensor { broadcastApply(.less, a, b) }
    /// 1 where a ≤ b, else 0 (no gradient).
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { broadcastApply(.lessEqual, a, b) }
    /// 1 where a > b, else 0 (no gradient).
    public static func .> (a: Tensor, b: Tensor) -> Tensor { broadcastApply(.greater, a, b) }
    /// 1 where a ≥ b, else 0 (no gradient).
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { broadcastApply(.greaterEqual, a, b) }

    // MARK: Scalar forms

    /// x + s.
    public static func + (x: Tensor, s: Float) -> Tensor { x.unary(.addScalar(s)) }
    /// s + x.
    public static func + (s: Float, x: Tensor) -> Tensor { x.unary(.addScalar(s)) }
    /// x − s.
    public static func - (x: Tensor, s: Float) -> Tensor { x.unary(.addScalar(-s)) }
    /// s − x.
    public static func - (s: Float, x: Tensor) -> Tensor { (-x).unary(.addScalar(s)) }
    /// s·x.
    public static func * (x: Tensor, s: Float) -> Tensor { x.unary(.scale(s)) }
    /// s·x.
    public static func * (s: Float, x: Tensor) -> Tensor { x.unary(.scale(s)) }
    /// x / s.
    public static func / (x: Tensor, s: Float) -> Tensor { x.unary(.scale(1 / s)) }
    /// s / x.
    public static func / (s: Float, x: Tensor) -> Tensor { x.unary(.pow(-1)).unary(.scale(s)) }

    // MARK: In place (no graph)

    /// self += other (same shape or broadcastable to self), outside autograd.
    public mutating func addInPlace(_ other: Tensor, scale: Float = 1) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        if other.shape == shape && scale == 1 {
            let s = Shape.contiguousStrides(shape)
            Runtime.backend.binary(.add, ptr, aStrides: s, other.ptr, bStrides: s, storage.base, shape: shape)
        } else {
            let o = scale == 1 ? other : other.detached().unary(.scale(scale))
            Runtime.backend.binary(.add, ptr, aStrides: Shape.contiguousStrides(shape),
                                   o.ptr, bStrides: Shape.broadcastStrides(o.shape, to: shape), storage.base, shape: shape)
        }
    }
}

