// Shape and layout ops: reshape (a free view), transpose/permute, concat,
// split, slice, and gathers along an axis, with their pullbacks.

import Foundation

extension Tensor {
    /// The same elements with a new shape (one entry may be −1: inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().reduce(1) { $1.offset == hole ? $0 : $0 * $1.element }
            require(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            target[hole] = count / known
        }
        require(Shape.count(target) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let view = Tensor(shape: target, storage: storage)
        guard Tensor.needsGraph(self) else { return view }
        let own = shape
        return view.recorded("reshape", [self]) { g, _ in [g.reshaped(own)] }
    }

    /// Axes reordered: the result's axis i is this tensor's axis `perm[i]` (a copy).
    public func permuted(_ perm: [Int]) -> Tensor {
        require(perm.count == rank && Set(perm) == Set(0..<rank), "bad permutation \(perm) for shape \(shape)")
        if perm == Array(0..<rank) { return self }
        let out = Tensor(uninitializedShape: perm.map { shape[$0] })
        Runtime.backend.permute(ptr, shape: shape, perm: perm, out.storage.base)
        guard Tensor.needsGraph(self) else { return out }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return out.recorded("permute", [self]) { g, _ in [g.permuted(inverse)] }
    }

    /// Swaps two axes (negative axes count from the end).
    public func transposed(_ dim0: Int = -2, _ dim1: Int = -1) -> Tensor {
        let a = Shape.axis(dim0, rank: rank, shape: shape), b = Shape.axis(dim1, rank: rank, shape: shape)
        var perm = Array(0..<rank)
        perm.swapAt(a, b)
        return permuted(perm)
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concat(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        require(!parts.isEmpty, "concat of no tensors")
        let first = parts[0]
        let ax = Shape.axis(axis, rank: first.rank, shape: first.shape)
        for p in parts {
            var a = p.shape, b = first.shape
            require(a.count == b.count, "concat: shapes \(p.shape) and \(first.shape) differ in rank")
            a[ax] = 0; b[ax] = 0
            require(a == b, "concat along axis \(axis): shapes \(p.shape) and \(first.shape) do not fit")
        }
        var outShape = first.shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitializedShape: outShape)
        let outer = Shape.count(Array(first.shape[..<ax]))
        let inner = Shape.count(Array(first.shape[(ax + 1)...]))
        let rowOut = outShape[ax] * inner
        var offset = 0
        for p in parts {
            let rowIn = p.shape[ax] * inner
            for o in 0..<outer {
                (out.storage.base + o * rowOut + offset).update(from: p.ptr + o * rowIn, count: rowIn)
            }
            offset += rowIn
        }
        guard Runtime.isGradEnabled, parts.contains(where: { $0.requiresGrad }) else { return out }
        let sizes = parts.map { $0.shape[ax] }
        return out.recorded("concat", parts) { g, needs in
            let pieces = g.split(sizes, axis: ax)
            return zip(pieces, needs).map { $1 ? $0 : nil }
        }
    }

    /// Splits along `axis` into pieces of the given sizes (they must add up to the extent).
    public func split(_ sizes: [Int], axis: Int = 0) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        require(sizes.reduce(0, +) == shape[ax], "split sizes \(sizes) do not add up to \(shape[ax]) in shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: ax, start..<(start + size))
        }
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int = 0, _ range: Range<Int>) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        require(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) out of bounds for axis \(axis) of shape \(shape)")
        var outShape = shape
        outShape[ax] = range.count
        let outer = Shape.count(Array(shape[..<ax])), inner = Shape.count(Array(shape[(ax + 1)...]))
        let out = Tensor(uninitializedShape: outShape)
        for o in 0..<outer {
            (out.storage.base + o * range.count * inner)
                .update(from: ptr + (o * shape[ax] + range.lowerBound) * inner, count: range.count * inner)
        }
        guard Tensor.needsGraph(self) else { return out }
        let full = shape
        return out.recorded("slice", [self]) { g, _ in
            let dx = Tensor.zeros(full)
            for o in 0..<outer {
                (dx.storage.base + (o * full[ax] + range.lowerBound) * inner)
                    .update(from: g.ptr + o * range.count * inner, count: range.count * inner)
            }
            return [dx]
        }
    }

    /// Picks along `axis` by index: out[…, j, …] = x[…, indices[…, j, …], …]
    /// (numpy `take_along_axis`; `indexShape` equals x's shape except at `axis`).
    /// The pullback scatter-adds.
    public func gather(axis: Int, indices: [Int], indexShape: [Int]) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, shape: shape)
        var check = indexShape
        require(check.count == rank, "gather: index shape \(indexShape) vs tensor shape \(shape)")
        check[ax] = shape[ax]
        require(check == shape && indices.count == Shape.count(indexShape),
                     "gather: index shape \(indexShape) does not fit tensor shape \(shape) at axis \(axis)")
        let outer = Shape.count(Array(shape[..<ax])), inner = Shape.count(Array(shape[(ax + 1)...]))
        let l = shape[ax], k = indexShape[ax]
        for v in indices { require(v >= 0 && v < l, "gather: index \(v) out of range 0..<\(l) for shape \(shape)") }
        let out = Tensor(uninitializedShape: indexShape)
        for o in 0..<outer { for j in 0..<k { for i in 0..<inner {
            let idx = (o * k + j) * inner + i
            out.storage.base[idx] = ptr[(o * l + indices[idx]) * inner + i]
        } } }
        guard Tensor.needsGraph(self) else { return out }
        let full = shape
        return out.recorded("gather", [self]) { g, _ in
            let dx = Tensor.zeros(full)
            for o in 0..<outer { for j in 0..<k { for i in 0..<inner {
                let idx = (o * k + j) * inner + i
                dx.storage.base[(o * l + indices[idx]) * inner + i] += g.ptr[idx]
            } } }
            return [dx]
        }
    }
}
