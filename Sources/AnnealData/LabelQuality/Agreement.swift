// Inter-annotator agreement statistics: Cohen's kappa, Fleiss' kappa and
// Krippendorff's alpha, in Double precision.
//
// Reference behaviour: /work/shared/conformance/LABELQUALITY.md §3–§5
// (scikit-learn `cohen_kappa_score`, statsmodels `fleiss_kappa`,
// krippendorff 0.9.0 `alpha`). Only Foundation is used.

import Foundation

/// An error raised by the label-quality functions (invalid input, undefined
/// statistic that the reference library raises on, or a malformed conformance
/// file). `description` is a complete, human-readable message that names the
/// offending row / case / file where applicable.
public struct LabelQualityError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The full message, e.g. `"pred_probs row 3: has 2 entries, expected 3"`.
    public let message: String
    /// The zero-based row (item, subject, rater …) the problem was found in, if any.
    public let row: Int?

    /// Creates an error with a message and an optional zero-based row index.
    public init(_ message: String, row: Int? = nil) {
        self.message = message
        self.row = row
    }

    /// The message (same as `message`).
    public var description: String { message }
}

/// Namespace for Anneal's label-quality math (agreement statistics,
/// aggregation of noisy annotations and confident learning).
///
/// All functions are pure, deterministic and work in `Double`. Whenever a
/// reference library would pick among exactly tied candidates in an
/// unspecified order, Anneal uses a *stable* order by ascending index
/// (LABELQUALITY.md §10.1).
public enum LabelQuality {
    /// Largest number of classes / categories accepted when it is inferred
    /// from label values or declared by the caller (guards against a stray
    /// huge label allocating enormous count tables).
    public static let maxClasses = 100_000

    static func checkClassCount(_ k: Int, _ what: String) throws {
        if k > maxClasses {
            throw LabelQualityError("\(what): \(k) classes is more than the supported maximum of \(maxClasses)")
        }
    }
}

// MARK: - Labels

extension LabelQuality {
    /// A categorical label as it appears in annotation files: an integer or a
    /// string.
    ///
    /// Ordering (used to build the sorted label set of Cohen's kappa):
    /// integers numerically; strings by Unicode code point, lexicographically
    /// (Python's `str` order, *not* Swift's canonical-equivalence order);
    /// all integers sort before all strings.
    public enum Category: Hashable, Comparable, Sendable, CustomStringConvertible {
        /// An integer label, ordered numerically.
        case int(Int)
        /// A string label, ordered by Unicode code points.
        case string(String)

        /// Total order: ints numerically, then strings by code point.
        public static func < (lhs: Category, rhs: Category) -> Bool {
            switch (lhs, rhs) {
            case let (.int(a), .int(b)): return a < b
            case (.int, .string): return true
            case (.string, .int): return false
            case let (.string(a), .string(b)):
                return a.unicodeScalars.map(\.value).lexicographicallyPrecedes(b.unicodeScalars.map(\.value))
            }
        }

        /// The label as written (no quotes for strings).
        public var description: String {
            switch self {
            case .int(let v): return String(v)
            case .string(let s): return s
            }
        }
    }
}

// MARK: - Cohen's kappa

extension LabelQuality {
    /// Disagreement weights for Cohen's kappa. Weights are computed from the
    /// *positions* a, b of the two labels in the sorted label list L, never
    /// from the label values: `none` w = [a ≠ b], `linear` w = |a − b|,
    /// `quadratic` w = (a − b)².
    public enum KappaWeighting: String, Sendable, CaseIterable {
        /// Nominal: w = 0 on the diagonal, 1 elsewhere.
        case none
        /// w = |a − b|.
        case linear
        /// w = (a − b)².
        case quadratic

        /// The weight w(a, b) for label positions a and b.
        public func weight(_ a: Int, _ b: Int) -> Double {
            switch self {
            case .none: return a == b ? 0 : 1
            case .linear: return Double(abs(a - b))
            case .quadratic: return Double((a - b) * (a - b))
            }
        }
    }

    /// Two-rater confusion matrix O over the label list L (scikit-learn
    /// `confusion_matrix` semantics).
    ///
    /// L = `labels` if given, else the sorted union of the values in `y1` and
    /// `y2`. O[a][b] = #items with y1 = L[a] and y2 = L[b]; items whose y1 or y2
    /// is not in L are dropped.
    ///
    /// - Throws: `LabelQualityError` if the two rater lists differ in length or
    ///   `labels` contains a duplicate.
    public static func confusionMatrix<L: Hashable & Comparable>(
        _ y1: [L], _ y2: [L], labels: [L]? = nil
    ) throws -> (labels: [L], counts: [[Int]]) {
        guard y1.count == y2.count else {
            throw LabelQualityError("cohen_kappa: y1 has \(y1.count) items but y2 has \(y2.count)")
        }
        let list: [L]
        if let labels {
            list = labels
        } else {
            list = Array(Set(y1).union(y2)).sorted()
        }
        var position: [L: Int] = [:]
        for (i, l) in list.enumerated() {
            if position[l] != nil {
                throw LabelQualityError("cohen_kappa: label \(l) appears twice in labels", row: i)
            }
            position[l] = i
        }
        let k = list.count
        var o = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for i in 0..<y1.count {
            guard let a = position[y1[i]], let b = position[y2[i]] else { continue }
            o[a][b] += 1
        }
        return (list, o)
    }

    /// Cohen's kappa for two raters (scikit-learn `cohen_kappa_score`).
    ///
    /// With the confusion matrix O over L (see `confusionMatrix`), row sums
    /// r_a, column sums c_b, n = ΣO and E[a][b] = r_a·c_b / n:
    ///
    ///     κ = 1 − Σ_ab w(a,b)·O[a][b] / Σ_ab w(a,b)·E[a][b]
    ///
    /// with w from `weights` (computed on positions in L).
    ///
    /// - Returns: κ, or `nil` when it is undefined (n = 0 or Σ w·E = 0, e.g.
    ///   both raters always give the same single label; scikit-learn returns NaN).
    /// - Throws: `LabelQualityError` on length mismatch or duplicate `labels`.
    public static func cohenKappa<L: Hashable & Comparable>(
        _ y1: [L], _ y2: [L], labels: [L]? = nil, weights: KappaWeighting = .none
    ) throws -> Double? {
        let (list, o) = try confusionMatrix(y1, y2, labels: labels)
        let k = list.count
        var rows = [Double](repeating: 0, count: k)
        var cols = [Double](repeating: 0, count: k)
        var n = 0.0
        for a in 0..<k {
            for b in 0..<k {
                let v = Double(o[a][b])
                rows[a] += v
                cols[b] += v
                n += v
            }
        }
        guard n > 0 else { return nil }
        var num = 0.0
        var den = 0.0
        for a in 0..<k {
            for b in 0..<k {
                let w = weights.weight(a, b)
                num += w * Double(o[a][b])
                den += w * (rows[a] * cols[b] / n)
            }
        }
        guard den != 0, den.isFinite else { return nil }
        let kappa = 1 - num / den
        return kappa.isFinite ? kappa : nil
    }

    /// Cohen's kappa for string labels, ordered by Unicode code point
    /// (Python's order). Same math as the generic `cohenKappa`.
    public static func cohenKappa(
        _ y1: [String], _ y2: [String], labels: [String]? = nil, weights: KappaWeighting = .none
    ) throws -> Double? {
        try cohenKappa(y1.map(Category.string), y2.map(Category.string),
                       labels: labels?.map(Category.string), weights: weights)
    }
}

// MARK: - Fleiss' kappa

extension LabelQuality {
    /// Chance-agreement model of Fleiss-type kappa.
    /// `fleiss`: P_e = Σ_j p_j²; `randolph` (free-marginal, statsmodels
    /// `"randolph"`/`"uniform"`): P_e = 1/K with K = number of table columns,
    /// unused categories included.
    public enum FleissMethod: String, Sendable, CaseIterable {
        /// P_e = Σ_j p_j² (observed category marginals).
        case fleiss
        /// P_e = 1/K (free-marginal, Randolph 2005).
        case randolph
    }

    /// Converts a subjects × raters table of category codes into the
    /// subjects × categories count table used by `fleissKappa`
    /// (statsmodels `aggregate_raters`, with categories 0..<numCategories).
    ///
    /// n_ij = #raters of subject i that chose category j; `nil` entries
    /// (missing ratings) are skipped.
    ///
    /// - Parameter numCategories: number of categories; defaults to
    ///   (largest code + 1).
    /// - Throws: `LabelQualityError` for ragged rows, negative codes, or codes
    ///   ≥ `numCategories`, naming the row.
    public static func aggregateRaters(_ data: [[Int?]], numCategories: Int? = nil) throws -> [[Int]] {
        let width = data.first?.count ?? 0
        var maxCode = -1
        for (i, row) in data.enumerated() {
            if row.count != width {
                throw LabelQualityError("ratings row \(i): has \(row.count) raters, expected \(width) (ragged table)", row: i)
            }
            for case let v? in row {
                if v < 0 { throw LabelQualityError("ratings row \(i): negative category code \(v)", row: i) }
                maxCode = max(maxCode, v)
            }
        }
        let k = numCategories ?? (maxCode + 1)
        try checkClassCount(k, "aggregate_raters")
        var table = [[Int]](repeating: [Int](repeating: 0, count: k), count: data.count)
        for (i, row) in data.enumerated() {
            for case let v? in row {
                guard v < k else {
                    throw LabelQualityError("ratings row \(i): category \(v) is outside 0..<\(k)", row: i)
                }
                table[i][v] += 1
            }
        }
        return table
    }

    /// Fleiss' kappa (statsmodels `fleiss_kappa`) from a subjects × categories
    /// count table n_ij in which every subject has the same number n of ratings.
    ///
    ///     p_j = Σ_i n_ij / (N·n)
    ///     P_i = (Σ_j n_ij² − n) / (n(n − 1)),   P̄ = mean_i P_i
    ///     P_e = Σ_j p_j²  (fleiss)   or   1/K  (randolph)
    ///     κ   = (P̄ − P_e) / (1 − P_e)
    ///
    /// - Returns: κ, or `nil` when undefined (n = 1, or P_e = 1: a single
    ///   category used throughout with `fleiss`).
    /// - Throws: `LabelQualityError` for an empty table, ragged rows, negative
    ///   counts or rows whose totals differ (naming the row).
    public static func fleissKappa(table: [[Int]], method: FleissMethod = .fleiss) throws -> Double? {
        guard let first = table.first, !first.isEmpty else {
            throw LabelQualityError("fleiss_kappa: the table is empty (need at least one subject and one category)")
        }
        let k = first.count
        let n = first.reduce(0.0) { $0 + Double($1) }
        for (i, row) in table.enumerated() {
            if row.count != k {
                throw LabelQualityError("fleiss_kappa table row \(i): has \(row.count) categories, expected \(k) (ragged table)", row: i)
            }
            if let bad = row.first(where: { $0 < 0 }) {
                throw LabelQualityError("fleiss_kappa table row \(i): negative count \(bad)", row: i)
            }
            let s = row.reduce(0.0) { $0 + Double($1) }
            if s != n {
                throw LabelQualityError("fleiss_kappa table row \(i): \(String(format: "%.0f", s)) ratings, but row 0 has \(String(format: "%.0f", n)); every subject needs the same number of raters", row: i)
            }
        }
        guard n > 0 else {
            throw LabelQualityError("fleiss_kappa: subjects have no ratings")
        }
        let subjects = Double(table.count)
        let nd = n
        let total = subjects * nd
        var colSums = [Double](repeating: 0, count: k)
        var pSum = 0.0
        for row in table {
            var sq = 0.0
            for (j, v) in row.enumerated() {
                let d = Double(v)
                colSums[j] += d
                sq += d * d
            }
            pSum += (sq - nd) / (nd * (nd - 1))
        }
        let pMean = pSum / subjects
        let pe: Double
        switch method {
        case .fleiss:
            pe = colSums.reduce(0) { $0 + ($1 / total) * ($1 / total) }
        case .randolph:
            pe = 1 / Double(k)
        }
        let kappa = (pMean - pe) / (1 - pe)
        return kappa.isFinite ? kappa : nil
    }
}

// MARK: - Krippendorff's alpha

extension LabelQuality {
    /// Level of measurement of Krippendorff's alpha; selects the squared
    /// distance δ²(c, k) between values v_c, v_k (c, k = positions in the
    /// sorted value domain D):
    /// - `nominal`: [v_c ≠ v_k]
    /// - `ordinal`: (Σ_{g=min(c,k)}^{max(c,k)} n_g − (n_c + n_k)/2)²
    /// - `interval`: (v_c − v_k)²
    /// - `ratio`: ((v_c − v_k)/(v_c + v_k))², 0 when v_c + v_k = 0.
    ///
    /// The krippendorff package's default is `interval`.
    public enum KrippendorffLevel: String, Sendable, CaseIterable {
        /// δ² = [v_c ≠ v_k].
        case nominal
        /// δ² = (Σ_{g=min}^{max} n_g − (n_c + n_k)/2)² (rank based).
        case ordinal
        /// δ² = (v_c − v_k)².
        case interval
        /// δ² = ((v_c − v_k)/(v_c + v_k))².
        case ratio
    }

    /// Krippendorff's alpha (krippendorff 0.9.0 `alpha`) from a raters × units
    /// reliability table; `nil` marks a missing rating.
    ///
    /// D = sorted distinct values present anywhere. For unit u with m_u ≥ 2
    /// ratings, n_uc of them equal to value c, the coincidence matrix gets
    /// o_ck += (n_uc·n_uk − [c=k]·n_uc)/(m_u − 1); units with fewer than two
    /// ratings contribute nothing. n_c = Σ_k o_kc, n = Σ_c n_c,
    /// e_ck = (n_c·n_k − [c=k]·n_c)/(n − 1) and
    ///
    ///     α = 1 − Σ o·δ² / Σ e·δ².
    ///
    /// - Returns: α, or `nil` when Σ e·δ² = 0 (NaN in the reference).
    /// - Throws: `LabelQualityError` for a ragged table (naming the rater row),
    ///   non-finite values, fewer than two distinct values (|D| ≤ 1, so
    ///   all-identical data raises instead of returning 1), or when no unit has
    ///   two or more ratings.
    public static func krippendorffAlpha(
        reliabilityData: [[Double?]], level: KrippendorffLevel = .interval
    ) throws -> Double? {
        let units = reliabilityData.first?.count ?? 0
        for (r, row) in reliabilityData.enumerated() {
            if row.count != units {
                throw LabelQualityError("krippendorff_alpha rater row \(r): has \(row.count) units, expected \(units) (ragged table)", row: r)
            }
            for (u, v) in row.enumerated() {
                if let v, !v.isFinite {
                    throw LabelQualityError("krippendorff_alpha rater row \(r), unit \(u): value \(v) is not finite (use null for a missing rating)", row: r)
                }
            }
        }
        var domainSet = Set<Double>()
        for row in reliabilityData { for case let v? in row { domainSet.insert(v == 0 ? 0 : v) } }
        let domain = domainSet.sorted()
        guard domain.count > 1 else {
            throw LabelQualityError("krippendorff_alpha: there has to be more than one value in the domain (found \(domain.count) distinct value\(domain.count == 1 ? "" : "s"))")
        }
        var index: [Double: Int] = [:]
        for (i, v) in domain.enumerated() { index[v] = i }
        let k = domain.count

        var o = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var pairable = false
        var counts = [Int](repeating: 0, count: k)
        for u in 0..<units {
            var present: [Int] = []
            for row in reliabilityData {
                if let v = row[u] {
                    let c = index[v == 0 ? 0 : v]!
                    if counts[c] == 0 { present.append(c) }
                    counts[c] += 1
                }
            }
            let m = present.reduce(0) { $0 + counts[$1] }
            if m >= 2 {
                pairable = true
                let denom = Double(m - 1)
                for c in present {
                    let nc = Double(counts[c])
                    for kk in present {
                        let nk = Double(counts[kk])
                        o[c][kk] += (nc * nk - (c == kk ? nc : 0)) / denom
                    }
                }
            }
            for c in present { counts[c] = 0 }
        }
        guard pairable else {
            throw LabelQualityError("krippendorff_alpha: no unit has two or more ratings, so there are no pairable values")
        }
        var nv = [Double](repeating: 0, count: k)
        for c in 0..<k { for kk in 0..<k { nv[c] += o[kk][c] } }
        let n = nv.reduce(0, +)

        // Cumulative sums of n_g for the ordinal metric.
        var cum = [Double](repeating: 0, count: k + 1)
        for g in 0..<k { cum[g + 1] = cum[g] + nv[g] }

        func delta2(_ c: Int, _ kk: Int) -> Double {
            switch level {
            case .nominal:
                return c == kk ? 0 : 1
            case .ordinal:
                let lo = min(c, kk), hi = max(c, kk)
                let s = (cum[hi + 1] - cum[lo]) - (nv[c] + nv[kk]) / 2
                return s * s
            case .interval:
                let d = domain[c] - domain[kk]
                return d * d
            case .ratio:
                let s = domain[c] + domain[kk]
                if s == 0 { return 0 }
                let d = (domain[c] - domain[kk]) / s
                return d * d
            }
        }

        var num = 0.0
        var den = 0.0
        for c in 0..<k {
            for kk in 0..<k {
                let d = delta2(c, kk)
                if d == 0 { continue }
                num += o[c][kk] * d
                let e = (nv[c] * nv[kk] - (c == kk ? nv[c] : 0)) / (n - 1)
                den += e * d
            }
        }
        guard den != 0, den.isFinite else { return nil }
        let alpha = 1 - num / den
        return alpha.isFinite ? alpha : nil
    }
}
