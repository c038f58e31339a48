// AnnealQuality: training-data and label quality beside the trainer —
// out-of-sample probabilities by cross-validation of Anneal's own MLP,
// label-issue reports, annotator files, near-duplicates and data pruning.
// The pure statistics live in AnnealData (`LabelQuality`); this module adds
// models, files and experiments around them. Shared helpers are below.

import Foundation

/// Connected components over `0..<count` (union–find with path halving and
/// union by size), used to turn duplicate pairs into duplicate groups.
public struct DisjointSets: Sendable {
    private var parent: [Int]
    private var size: [Int]

    /// `count` singleton sets.
    public init(count: Int) {
        parent = Array(0..<count)
        size = [Int](repeating: 1, count: count)
    }

    /// The representative of `x`'s set.
    public mutating func find(_ x: Int) -> Int {
        var x = x
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }

    /// Merges the sets of `a` and `b`.
    public mutating func union(_ a: Int, _ b: Int) {
        var ra = find(a), rb = find(b)
        guard ra != rb else { return }
        if size[ra] < size[rb] { swap(&ra, &rb) }
        parent[rb] = ra
        size[ra] += size[rb]
    }

    /// Sets with at least `minimumSize` members, each sorted ascending; the
    /// groups are ordered by their smallest member.
    public mutating func groups(minimumSize: Int = 2) -> [[Int]] {
        var members: [Int: [Int]] = [:]
        for i in 0..<parent.count { members[find(i), default: []].append(i) }
        return members.values.filter { $0.count >= minimumSize }.sorted { $0[0] < $1[0] }
    }
}

/// Indices of `values` sorted ascending by value, equal values by ascending
/// index (a stable order, as LABELQUALITY.md §10.1 recommends).
func stableOrder(_ values: [Double]) -> [Int] {
    values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
}

/// Row-major rows `indices` of a [N, F] matrix, as a new [indices.count, F] array.
func gatherRows(_ matrix: [Float], featureCount f: Int, _ indices: [Int]) -> [Float] {
    var out = [Float](repeating: 0, count: indices.count * f)
    matrix.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for (r, i) in indices.enumerated() {
                (dst.baseAddress! + r * f).update(from: src.baseAddress! + i * f, count: f)
            }
        }
    }
    return out
}

/// Formats a number for Markdown tables and reports: `digits` decimals.
func fixed(_ value: Double, _ digits: Int = 3) -> String {
    String(format: "%.\(digits)f", value)
}
