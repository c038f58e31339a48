// Reductions (sum, mean, max along an axis or over everything), arg-max, and
// broadcasting a tensor up to a larger shape.

import Foundation

extension Tensor {
    /// Views the tensor as [outer, length, inner] around `axis`.
    func split3(_ axis: Int) -> (outer: Int, length: Int, inner: Int) {
        (Shape.count(Array(shape[..<axis])), shape[axis], Shape.count(Array(shape[(axis + 1)...])))
    }

    func reducedShape(_ axis: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    /// Σ along `axis` (negative counts from the end).
    public func sum(axis: Int, keepDim: Bool = false) -> Tensor { reduceOp(.sum, axis: axis, keepDim: keepDim) }
    /// Mean along `axis`.
    public func mean(axis: Int, keepDim: Bool = false) -> Tensor { reduceOp(.mean, axis: axis, keepDim: keepDim) }
    /// Σ of all elements, as a scalar.
    public func sum() -> Tensor { reshaped([count]).reduceOp(.sum, axis: 0, keepDim: false) }
    /// Mean of all elements, as a scalar.
    public func mean() -> Tensor { reshaped([count]).reduceOp(.mean, axis: 0, keepDim: false) }

    func reduceOp(_ op: ReduceOp, axis: Int, keepDim: Bool) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        let (o, l, i) = split3(ax)
        let out = Tensor(uninitializedShape: reducedShape(ax, keepDim: keepDim))
        Runtime.backend.reduce(op, ptr, outer: o, length: l, inner: i, out.storage.base, argmax: nil)
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape, kept = reducedShape(ax, keepDim: true)
        let scale: Float = op == .mean ? 1 / Float(l) : 1
        return out.recorded(op == .sum ? "sum" : "mean", [self]) { g, _ in
            [g.reshaped(kept).broadcasted(to: inShape, scale: scale)]
        }
    }

    /// Maximum along `axis`; the gradient goes to the first maximal element.
    public func max(axis: Int, keepDim: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        let (o, l, i) = split3(ax)
        let out = Tensor(uninitializedShape: reducedShape(ax, keepDim: keepDim))
        var arg = [Int32](repeating: 0, count: o * i)
        arg.withUnsafeMutableBufferPointer {
            Runtime.backend.reduce(.max, ptr, outer: o, length: l, inner: i, out.storage.base, argmax: $0.baseAddress)
        }
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape
        return out.recorded("max", [self]) { g, _ in
            let dx = Tensor.zeros(inShape)
            for a in 0..<o {
                for j in 0..<i { dx.storage.base[(a * l + Int(arg[a * i + j])) * i + j] = g.storage.base[a * i + j] }
            }
            return [dx]
        }
    }

    /// Maximum of all elements, as a scalar.
    public func max() -> Tensor { reshaped([count]).max(axis: 0) }

    /// Index of the first maximum along `axis` (no gradient).
    public func argmax(axis: Int = -1) -> [Int] {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        let (o, l, i) = split3(ax)
        let out = Tensor(uninitializedShape: [o * i])
        var arg = [Int32](repeating: 0, count: o * i)
        arg.withUnsafeMutableBufferPointer {
            Runtime.backend.reduce(.max, ptr, outer: o, length: l, inner: i, out.storage.base, argmax: $0.baseAddress)
        }
        return arg.map(Int.init)
    }

    /// This tensor repeated along broadcast axes up to `target` (times `scale`).
    /// The pullback sums back (unbroadcast).
    public func broadcasted(to target: [Int], scale: Float = 1) -> Tensor {
        if target == shape && scale == 1 { return self }
        require(Shape.broadcast(shape, target) == target, "cannot broadcast \(shape) to \(target)")
        let out = Tensor(uninitializedShape: target)
        var s = scale
        withUnsafePointer(to: &s) { sp in
            Runtime.backend.binary(.mul, ptr, aStrides: Shape.broadcastStrides(shape, to: target),
                                   sp, bStrides: [Int](repeating: 0, count: target.count), out.storage.base, shape: target)
        }
        guard Tensor.needsGraph(self) else { return out }
        let own = shape
        return out.recorded("broadcast", [self]) { g, _ in [g.unbroadcast(to: own) * scale] }
    }
}
