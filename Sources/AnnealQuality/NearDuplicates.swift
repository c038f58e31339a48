// Exact and near duplicates, reported as groups (connected components):
// identical feature rows / normalised texts, plus neighbours closer than a
// threshold in a brute-force k-nearest-neighbour graph (GEMM for candidate
// selection, exact Double distances for the decisions).

import Anneal
import AnnealData
import Foundation

/// Turns texts into vectors for near-duplicate search.
public protocol TextEmbedder {
    /// Embeddings [N, D], one row per text (need not be unit length).
    func embed(_ texts: [String]) throws -> Tensor
}

/// MiniLM sentence embeddings (unit length, 384 floats per text).
extension SentenceEncoder: TextEmbedder {}

/// Distance between two vectors in the neighbour search.
public enum NeighbourMetric: String, Sendable, CaseIterable {
    /// ‖x − y‖₂.
    case euclidean
    /// 1 − x·y / (‖x‖‖y‖), in [0, 2]; a zero vector has cosine 0 with everything.
    case cosine

    /// cleanlab Datalab's choice: cosine when the vectors have more than 3 dimensions, else euclidean.
    public static func datalabDefault(dimensions: Int) -> NeighbourMetric { dimensions > 3 ? .cosine : .euclidean }
}

/// The k nearest neighbours of every row (itself excluded).
public struct NearestNeighbours: Sendable {
    /// indices[i] = the min(k, N − 1) nearest rows to row i, nearest first
    /// (equal distances by ascending index).
    public var indices: [[Int]]
    /// distances[i][r] = distance from row i to indices[i][r] (Double, exact).
    public var distances: [[Double]]

    /// Brute-force k-NN over row-major vectors [N, D]. Candidates come from a
    /// blocked GEMM (X_block·Xᵀ on the current backend); the kept neighbours'
    /// distances are then recomputed exactly in Double and re-sorted.
    public static func search(_ vectors: [Float], dimensions d: Int, k: Int, metric: NeighbourMetric,
                              blockRows: Int = 256) -> NearestNeighbours {
        precondition(d > 0 && vectors.count % d == 0, "vectors must be rows × dimensions")
        let n = vectors.count / d
        let kk = min(k, n - 1)
        guard kk > 0 else { return NearestNeighbours(indices: .init(repeating: [], count: n), distances: .init(repeating: [], count: n)) }
        // Rows used in the GEMM: unit rows for cosine (zero rows stay zero).
        var norms = [Double](repeating: 0, count: n)
        var searchRows = vectors
        vectors.withUnsafeBufferPointer { v in
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { let x = Double(v[i * d + j]); s += x * x }
                norms[i] = s.squareRoot()
            }
        }
        if metric == .cosine {
            searchRows.withUnsafeMutableBufferPointer { v in
                for i in 0..<n where norms[i] > 0 {
                    let inv = Float(1 / norms[i])
                    for j in 0..<d { v[i * d + j] *= inv }
                }
            }
        }
        // Ranking key of neighbour j for row i: offset_j + factor·(x_i·x_j), i.e.
        // ‖x_j‖² − 2x_i·x_j (euclidean, ‖x_i‖² dropped) or −cos (cosine).
        let offsets = metric == .euclidean ? norms.map { Float($0 * $0) } : [Float](repeating: 0, count: n)
        let factor: Float = metric == .euclidean ? -2 : -1
        let all = Tensor(shape: [n, d], searchRows)   // [N, D]
        var indices = [[Int]](repeating: [], count: n)
        var distances = [[Double]](repeating: [], count: n)
        let bestKey = UnsafeMutablePointer<Float>.allocate(capacity: kk)     // [k] ascending keys
        let bestIndex = UnsafeMutablePointer<Int>.allocate(capacity: kk)     // [k] their rows
        defer { bestKey.deallocate(); bestIndex.deallocate() }
        for start in stride(from: 0, to: n, by: blockRows) {
            let rows = min(blockRows, n - start)
            let block = Tensor(shape: [rows, d], Array(searchRows[start * d ..< (start + rows) * d]))
            let dots = Runtime.withNoGrad { Tensor.matmul(block, all, transposeB: true) }   // [rows, N]
            dots.withUnsafeBufferPointer { s in
                offsets.withUnsafeBufferPointer { off in
                    for r in 0..<rows {
                        let i = start + r
                        let filled = smallestKeys(row: s.baseAddress! + r * n, offsets: off.baseAddress!, factor: factor,
                                                  count: n, skip: i, k: kk, keys: bestKey, indices: bestIndex)
                        let candidates = Array(UnsafeBufferPointer(start: bestIndex, count: filled))
                        let exact = candidates.map { exactDistance(vectors, d, i, $0, norms, metric) }
                        let order = candidates.indices.sorted {
                            exact[$0] < exact[$1] || (exact[$0] == exact[$1] && candidates[$0] < candidates[$1])
                        }
                        indices[i] = order.map { candidates[$0] }
                        distances[i] = order.map { exact[$0] }
                    }
                }
            }
        }
        return NearestNeighbours(indices: indices, distances: distances)
    }

    /// Insertion-selects the k smallest keys offsets[j] + factor·row[j] over
    /// j ∈ 0..<count, j ≠ skip (equal keys: lower j first) into keys/indices,
    /// ascending; returns how many were filled (min(k, count − 1)).
    static func smallestKeys(row: UnsafePointer<Float>, offsets: UnsafePointer<Float>, factor: Float, count: Int, skip: Int,
                             k: Int, keys: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>) -> Int {
        var filled = 0
        for j in 0..<count where j != skip {
            let key = offsets[j] + factor * row[j]
            if filled == k && key >= keys[k - 1] { continue }
            var p = filled == k ? k - 1 : filled
            if filled < k { filled += 1 }
            while p > 0 && keys[p - 1] > key {
                keys[p] = keys[p - 1]; indices[p] = indices[p - 1]; p -= 1
            }
            keys[p] = key; indices[p] = j
        }
        return filled
    }

    static func exactDistance(_ v: [Float], _ d: Int, _ i: Int, _ j: Int, _ norms: [Double], _ metric: NeighbourMetric) -> Double {
        v.withUnsafeBufferPointer { p in
            switch metric {
            case .euclidean:
                var s = 0.0
                for c in 0..<d { let x = Double(p[i * d + c]) - Double(p[j * d + c]); s += x * x }
                return s.squareRoot()
            case .cosine:
                guard norms[i] > 0, norms[j] > 0 else { return 1 }
                var s = 0.0
                for c in 0..<d { s += Double(p[i * d + c]) * Double(p[j * d + c]) }
                return min(max(1 - s / (norms[i] * norms[j]), 0), 2)
            }
        }
    }
}

/// A set of rows that duplicate each other (a connected component of the
/// duplicate graph, so members are linked by a chain of duplicate pairs).
public struct DuplicateGroup: Sendable, Equatable {
    /// Row indices, ascending.
    public var members: [Int]
    /// Whether every member is identical (rows) or equal after normalisation (texts).
    public var exact: Bool
    /// Largest distance of a duplicate pair inside the group (0 for exact groups).
    public var maxDistance: Double
}

/// Exact and near duplicates of a data set.
public struct DuplicateReport: Sendable {
    /// Rows compared.
    public var count: Int
    /// Groups of identical rows / equal normalised texts (size ≥ 2), by smallest member.
    public var exactGroups: [[Int]]
    /// Duplicate groups: connected components of exact ∪ near pairs (size ≥ 2),
    /// largest first, then by smallest member.
    public var groups: [DuplicateGroup]
    /// Near-duplicate pairs (i < j) and their distance, ascending by (i, j).
    public var pairs: [(Int, Int, Double)]
    /// The neighbour metric.
    public var metric: NeighbourMetric
    /// Neighbours (k) searched per row.
    public var neighbours: Int
    /// A neighbour j of i is a near duplicate when d(i, j) < `threshold`
    /// (rows, Datalab rule) or ≤ `threshold` (texts, cosine rule).
    public var threshold: Double
    /// Datalab's m = max(median nearest-neighbour distance, ε) (rows only).
    public var medianNearestDistance: Double?
    /// Each row's distance to its nearest neighbour (∞ for a single row).
    public var nearestDistance: [Double]

    /// Rows in some duplicate group.
    public var duplicatedRows: Int { groups.reduce(0) { $0 + $1.members.count } }
    /// Rows that could be dropped keeping one per group.
    public var redundantRows: Int { groups.reduce(0) { $0 + $1.members.count - 1 } }
}

/// Near-duplicate detection for numeric rows and texts.
public enum NearDuplicates {
    /// cleanlab Datalab's `near_duplicate` threshold: a fraction of the median
    /// nearest-neighbour distance.
    public static let datalabFraction = 0.13
    /// Neighbours per row (Datalab's k).
    public static let defaultNeighbours = 10
    /// Default cosine similarity for text near-duplicates (MiniLM embeddings).
    public static let defaultMinCosine = 0.95

    /// Groups of equal keys (size ≥ 2), each ascending, by smallest member.
    public static func exactGroups<Key: Hashable>(_ keys: [Key]) -> [[Int]] {
        var byKey: [Key: [Int]] = [:]
        for (i, key) in keys.enumerated() { byKey[key, default: []].append(i) }
        return byKey.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
    }

    /// Near duplicates among numeric rows [N, F] with cleanlab Datalab's rule:
    /// k-NN graph (`metric` default: cosine if F > 3, else euclidean);
    /// m = max(median_i d_nn(i), ε); j is a near duplicate of i when j is among
    /// i's k nearest neighbours and d(i, j) < fraction·m; pairs are symmetric.
    /// Identical rows always form (exact) groups.
    public static func rows(_ features: [Float], featureCount: Int, k: Int = defaultNeighbours,
                            fraction: Double = datalabFraction, metric: NeighbourMetric? = nil) -> DuplicateReport {
        let n = features.count / featureCount
        let keys = (0..<n).map { i in features[i * featureCount ..< (i + 1) * featureCount].map { $0 == 0 ? 0 : $0.bitPattern } }
        let exact = exactGroups(keys)
        let metric = metric ?? .datalabDefault(dimensions: featureCount)
        let knn = NearestNeighbours.search(features, dimensions: featureCount, k: k, metric: metric)
        let nearest = knn.distances.map { $0.first ?? .infinity }
        let finite = nearest.filter(\.isFinite).sorted()
        let median = finite.isEmpty ? 0 : (finite.count % 2 == 1 ? finite[finite.count / 2]
                                           : (finite[finite.count / 2 - 1] + finite[finite.count / 2]) / 2)
        let m = max(median, Double.ulpOfOne)
        let threshold = fraction * m
        var report = assemble(count: n, exact: exact, knn: knn, metric: metric, k: k, threshold: threshold) { $0 < threshold }
        report.medianNearestDistance = m
        return report
    }

    /// A text as compared for exact duplicates: Unicode compatibility form
    /// (NFKC), lower-cased, every run of characters other than letters and
    /// digits replaced by one space, trimmed ("Great film!!" → "great film").
    public static func normalizedText(_ text: String) -> String {
        var out = ""
        var pendingSpace = false
        for scalar in text.precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                if pendingSpace && !out.isEmpty { out.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingSpace = true
            }
        }
        return out
    }

    /// Near duplicates among texts: exact groups by `normalizedText`, plus
    /// pairs among each text's k nearest neighbours (cosine on `embedder`'s
    /// vectors) with cosine similarity ≥ `minCosine`. Each distinct text is
    /// embedded once.
    public static func texts(_ texts: [String], embedder: some TextEmbedder, k: Int = defaultNeighbours,
                             minCosine: Double = defaultMinCosine) throws -> DuplicateReport {
        try self.texts(texts, embeddings: embeddings(texts, embedder: embedder), k: k, minCosine: minCosine)
    }

    /// Embeddings [N, D] of `texts` (row i for texts[i]), calling `embedder`
    /// once with each distinct text.
    /// - Throws: what the embedder throws, or `LabelQualityError` when it
    ///   returns the wrong shape.
    public static func embeddings(_ texts: [String], embedder: some TextEmbedder) throws -> Tensor {
        var unique: [String: Int] = [:]
        var distinct: [String] = []
        let slot = texts.map { t in
            if let s = unique[t] { return s }
            unique[t] = distinct.count
            distinct.append(t)
            return distinct.count - 1
        }
        guard !distinct.isEmpty else { return Tensor.zeros([0, 1]) }
        let e = try embedder.embed(distinct)
        guard e.rank == 2, e.shape[0] == distinct.count, e.shape[1] > 0 else {
            throw LabelQualityError("the text embedder returned shape \(e.shape) for \(distinct.count) texts (need [\(distinct.count), D])")
        }
        return Tensor(shape: [texts.count, e.shape[1]], gatherRows(e.scalars, featureCount: e.shape[1], slot))
    }

    /// Near duplicates among texts with precomputed embeddings [N, D] (row i
    /// for texts[i]); same rule as `texts(_:embedder:k:minCosine:)`.
    public static func texts(_ texts: [String], embeddings: Tensor, k: Int = defaultNeighbours,
                             minCosine: Double = defaultMinCosine) throws -> DuplicateReport {
        guard embeddings.rank == 2, embeddings.shape[0] == texts.count, embeddings.shape[1] > 0 else {
            throw LabelQualityError("embeddings of shape \(embeddings.shape) for \(texts.count) texts (need [\(texts.count), D])")
        }
        let threshold = 1 - minCosine
        let exact = exactGroups(texts.map(normalizedText))
        let knn = NearestNeighbours.search(embeddings.scalars, dimensions: embeddings.shape[1], k: k, metric: .cosine)
        return assemble(count: texts.count, exact: exact, knn: knn, metric: .cosine, k: k, threshold: threshold) { $0 <= threshold }
    }

    /// Builds the report: near pairs from the k-NN graph under `isNear`,
    /// components of exact ∪ near pairs.
    static func assemble(count n: Int, exact: [[Int]], knn: NearestNeighbours, metric: NeighbourMetric, k: Int,
                         threshold: Double, isNear: (Double) -> Bool) -> DuplicateReport {
        var pairDistance: [Int: Double] = [:]   // key i·n + j with i < j
        for i in 0..<n {
            for (r, j) in knn.indices[i].enumerated() where isNear(knn.distances[i][r]) {
                pairDistance[min(i, j) * n + max(i, j)] = knn.distances[i][r]
            }
        }
        var sets = DisjointSets(count: n)
        for group in exact { for m in group.dropFirst() { sets.union(group[0], m) } }
        for key in pairDistance.keys { sets.union(key / n, key % n) }
        let exactOf = Dictionary(exact.enumerated().flatMap { g in g.element.map { ($0, g.offset) } }, uniquingKeysWith: { a, _ in a })
        var groupMax: [Int: Double] = [:]
        for (key, dist) in pairDistance {
            let root = sets.find(key / n)
            groupMax[root] = max(groupMax[root] ?? 0, dist)
        }
        var groups: [DuplicateGroup] = []
        for members in sets.groups() {
            let first = exactOf[members[0]]
            let isExact = first != nil && members.allSatisfy { exactOf[$0] == first }
            let root = sets.find(members[0])
            groups.append(DuplicateGroup(members: members, exact: isExact, maxDistance: isExact ? 0 : groupMax[root] ?? 0))
        }
        groups.sort { a, b in
            a.members.count != b.members.count ? a.members.count > b.members.count : a.members[0] < b.members[0]
        }
        let pairs: [(Int, Int, Double)] = pairDistance.keys.sorted().map { key in (key / n, key % n, pairDistance[key]!) }
        return DuplicateReport(count: n, exactGroups: exact, groups: groups, pairs: pairs, metric: metric,
                               neighbours: min(k, max(n - 1, 0)), threshold: threshold, medianNearestDistance: nil,
                               nearestDistance: knn.distances.map { $0.first ?? .infinity })
    }
}
