// Shape arithmetic: element counts, row-major strides and numpy broadcasting.

/// Helpers over shapes written as `[Int]` (row-major, last axis fastest).
public enum Shape {
    /// Number of elements: the product of the extents (1 for a scalar `[]`).
    @inlinable public static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    /// Row-major strides in elements: strides[i] = Π shape[i+1...].
    @inlinable public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s &*= shape[i]
        }
        return strides
    }

    /// The numpy broadcast of two shapes (align trailing axes; 1 stretches), or nil.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides that read a tensor of `shape` as if it had `target`'s shape
    /// (broadcast axes get stride 0). `shape` must broadcast to `target`.
    public static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = contiguousStrides(shape)
        let lead = target.count - shape.count
        return (0..<target.count).map { i in
            i < lead ? 0 : (shape[i - lead] == 1 && target[i] != 1 ? 0 : own[i - lead])
        }
    }

    /// Resolves a possibly negative axis against `rank`; traps naming the shape if out of range.
    @inlinable public static func axis(_ axis: Int, rank: Int, shape: [Int]) -> Int {
        let a = axis < 0 ? axis + rank : axis
        require(a >= 0 && a < max(rank, 1), "axis \(axis) out of range for shape \(shape)")
        return a
    }
}

/// Traps with `message` when `condition` is false, in every build mode
/// (unlike `precondition`, whose message -O builds drop). For programmer
/// errors such as incompatible shapes; the message names the shapes.
@inlinable @inline(__always)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
