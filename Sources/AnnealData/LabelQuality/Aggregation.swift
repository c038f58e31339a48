// Aggregation of noisy multi-annotator labels: majority vote with cleanlab's
// tie-break, Dawid–Skene EM with crowd-kit semantics, and agreement of
// annotators with a consensus.
//
// Reference behaviour: /work/shared/conformance/LABELQUALITY.md §9
// (cleanlab 2.9.0 `get_majority_vote_label`, crowd-kit 1.4.2 `DawidSkene`).
// Only Foundation is used.

import Foundation

extension LabelQuality {
    /// Checks an items × annotators label table (`nil` = the annotator did not
    /// label the item) and returns the number of classes K.
    ///
    /// K = `numClasses` if given, else the column count of `predProbs` if
    /// given, else (largest label + 1).
    ///
    /// - Throws: `LabelQualityError` naming the row for: an empty table, ragged
    ///   rows (different annotator counts), labels outside 0..<K, items nobody
    ///   labelled; and for a `predProbs` that does not match (see
    ///   `validatePredProbs`).
    @discardableResult
    public static func validateMultiannotator(
        _ labels: [[Int?]], numClasses: Int? = nil, predProbs: [[Double]]? = nil
    ) throws -> Int {
        guard let first = labels.first else {
            throw LabelQualityError("labels_multiannotator: the table has no items")
        }
        let m = first.count
        guard m > 0 else {
            throw LabelQualityError("labels_multiannotator: the table has no annotator columns")
        }
        var maxLabel = -1
        for (i, row) in labels.enumerated() {
            if row.count != m {
                throw LabelQualityError("labels_multiannotator row \(i): has \(row.count) annotators, expected \(m) (ragged table)", row: i)
            }
            var any = false
            for (a, v) in row.enumerated() {
                guard let v else { continue }
                any = true
                if v < 0 {
                    throw LabelQualityError("labels_multiannotator row \(i), annotator \(a): label \(v) is negative", row: i)
                }
                maxLabel = max(maxLabel, v)
            }
            if !any {
                throw LabelQualityError("labels_multiannotator row \(i): no annotator labelled this item", row: i)
            }
        }
        let k: Int
        if let numClasses {
            k = numClasses
        } else if let p = predProbs?.first {
            k = p.count
        } else {
            k = maxLabel + 1
        }
        guard k >= 1 else {
            throw LabelQualityError("labels_multiannotator: the number of classes must be at least 1 (got \(k))")
        }
        try checkClassCount(k, "labels_multiannotator")
        for (i, row) in labels.enumerated() {
            for (a, v) in row.enumerated() {
                if let v, v >= k {
                    throw LabelQualityError("labels_multiannotator row \(i), annotator \(a): label \(v) is outside the declared classes 0..<\(k)", row: i)
                }
            }
        }
        if let predProbs {
            try validatePredProbs(predProbs, count: labels.count, numClasses: k)
        }
        return k
    }

    // MARK: Majority vote

    /// Consensus labels by majority vote with cleanlab's tie-break
    /// (`get_majority_vote_label`).
    ///
    /// For each item the votes per class are counted; a unique modal class
    /// wins. Ties among the modal classes are narrowed in stages:
    /// 1. if `predProbs` is given, keep the tied classes with the largest
    ///    P[i][k] (one left → it wins);
    /// 2. keep those with the smallest total vote count over the whole
    ///    dataset (favours minority classes);
    /// 3. annotator score a_m = fraction of agreement of annotator m with the
    ///    consensus on the items no longer tied after stages 1–2 (annotators
    ///    without such items get the mean of the others); class score = mean
    ///    a_m over the annotators that voted that class on this item; keep the
    ///    maximum;
    /// 4. still tied: cleanlab picks uniformly at random; Anneal picks the
    ///    smallest remaining class index (deterministic).
    ///
    /// - Parameters:
    ///   - labels: items × annotators, `nil` = missing.
    ///   - predProbs: optional N × K model probabilities (stage 1).
    ///   - numClasses: K (default: `predProbs` columns, else largest label + 1).
    /// - Throws: `LabelQualityError` from `validateMultiannotator`.
    public static func majorityVote(
        _ labels: [[Int?]], predProbs: [[Double]]? = nil, numClasses: Int? = nil
    ) throws -> [Int] {
        let k = try validateMultiannotator(labels, numClasses: numClasses, predProbs: predProbs)
        let n = labels.count
        let m = labels[0].count
        var votes = [[Int]](repeating: [Int](repeating: 0, count: k), count: n)
        var classTotals = [Int](repeating: 0, count: k)
        for i in 0..<n {
            for case let v? in labels[i] {
                votes[i][v] += 1
                classTotals[v] += 1
            }
        }
        var result = [Int](repeating: -1, count: n)
        var tied: [Int: [Int]] = [:]
        for i in 0..<n {
            let top = votes[i].max()!
            let modal = (0..<k).filter { votes[i][$0] == top }
            if modal.count == 1 { result[i] = modal[0] } else { tied[i] = modal }
        }

        // Narrows the candidate set of every still-tied item with `keep`.
        func narrow(_ keep: (Int, [Int]) -> [Int]) {
            for i in tied.keys.sorted() {
                let kept = keep(i, tied[i]!)
                if kept.count == 1 {
                    result[i] = kept[0]
                    tied[i] = nil
                } else {
                    tied[i] = kept
                }
            }
        }

        if let predProbs, !tied.isEmpty {
            narrow { i, cands in
                let best = cands.map { predProbs[i][$0] }.max()!
                return cands.filter { predProbs[i][$0] == best }
            }
        }
        if !tied.isEmpty {
            narrow { _, cands in
                let least = cands.map { classTotals[$0] }.min()!
                return cands.filter { classTotals[$0] == least }
            }
        }
        if !tied.isEmpty {
            var agree = [Double](repeating: 0, count: m)
            var seen = [Double](repeating: 0, count: m)
            for i in 0..<n where tied[i] == nil {
                for (a, v) in labels[i].enumerated() {
                    guard let v else { continue }
                    seen[a] += 1
                    if v == result[i] { agree[a] += 1 }
                }
            }
            var score = [Double?](repeating: nil, count: m)
            for a in 0..<m where seen[a] > 0 { score[a] = agree[a] / seen[a] }
            let known = score.compactMap { $0 }
            let fill = known.isEmpty ? 0 : known.reduce(0, +) / Double(known.count)
            let annotatorScore = score.map { $0 ?? fill }
            narrow { i, cands in
                let classScore = cands.map { c -> Double in
                    var s = 0.0
                    var cnt = 0.0
                    for (a, v) in labels[i].enumerated() where v == c {
                        s += annotatorScore[a]
                        cnt += 1
                    }
                    return cnt > 0 ? s / cnt : 0
                }
                let best = classScore.max()!
                return zip(cands, classScore).filter { $0.1 == best }.map(\.0)
            }
        }
        for (i, cands) in tied { result[i] = cands.min()! }
        return result
    }

    // MARK: Agreement with a consensus

    /// Per annotator: the fraction of the items they labelled on which their
    /// label equals `consensus` (cleanlab `agreement_with_consensus`),
    /// a_m = #{i : y_im = c_i} / #{i : y_im ≠ nil}; `nil` for an annotator who
    /// labelled nothing.
    ///
    /// - Throws: `LabelQualityError` for a ragged table or when `consensus`
    ///   does not have one label per item.
    public static func annotatorAgreementWithConsensus(
        _ labels: [[Int?]], consensus: [Int]
    ) throws -> [Double?] {
        guard labels.count == consensus.count else {
            throw LabelQualityError("consensus has \(consensus.count) labels but the table has \(labels.count) items")
        }
        let m = labels.first?.count ?? 0
        var agree = [Double](repeating: 0, count: m)
        var seen = [Double](repeating: 0, count: m)
        for (i, row) in labels.enumerated() {
            guard row.count == m else {
                throw LabelQualityError("labels_multiannotator row \(i): has \(row.count) annotators, expected \(m) (ragged table)", row: i)
            }
            for (a, v) in row.enumerated() {
                guard let v else { continue }
                seen[a] += 1
                if v == consensus[i] { agree[a] += 1 }
            }
        }
        return (0..<m).map { seen[$0] > 0 ? agree[$0] / seen[$0] : nil }
    }

    /// Per item: the fraction of its annotators whose label equals the
    /// consensus label (cleanlab `annotator_agreement`),
    /// #{m : y_im = c_i} / #{m : y_im ≠ nil}; 0 for an item nobody labelled.
    ///
    /// - Throws: `LabelQualityError` when `consensus` does not have one label
    ///   per item.
    public static func itemAgreementWithConsensus(
        _ labels: [[Int?]], consensus: [Int]
    ) throws -> [Double] {
        guard labels.count == consensus.count else {
            throw LabelQualityError("consensus has \(consensus.count) labels but the table has \(labels.count) items")
        }
        return labels.enumerated().map { i, row in
            let given = row.compactMap { $0 }
            guard !given.isEmpty else { return 0 }
            return Double(given.filter { $0 == consensus[i] }.count) / Double(given.count)
        }
    }

    /// Number of annotations per item (non-`nil` entries of each row).
    public static func numAnnotations(_ labels: [[Int?]]) -> [Int] {
        labels.map { $0.reduce(0) { $1 == nil ? $0 : $0 + 1 } }
    }

    // MARK: Dawid–Skene

    /// Result of `dawidSkene`.
    public struct DawidSkeneResult: Sendable {
        /// N × K posterior class probabilities q_ic, clipped below at 1e-10
        /// (not renormalised). Classes no annotator ever used get 0; an item
        /// nobody labelled gets the priors.
        public var probas: [[Double]]
        /// K class priors π_c = mean_i q_ic (0 for unused classes).
        public var priors: [Double]
        /// N consensus labels, argmax_c q_ic (first index on ties).
        public var labels: [Int]
        /// Per annotator a K × K matrix errors[a][l][c] = P(annotator a says l |
        /// true class c); each column c sums to 1 over the labels the annotator
        /// used; rows of labels the annotator never gave are 0.
        public var errors: [[[Double]]]
        /// Evidence lower bound after each EM iteration.
        public var elboHistory: [Double]
        /// Number of EM iterations run.
        public var iterations: Int
        /// Whether EM stopped because the ELBO improved by less than `tolerance`.
        public var converged: Bool
    }

    /// Dawid–Skene EM for noisy annotations (crowd-kit 1.4.2 `DawidSkene`).
    ///
    /// Observations are (item i, annotator w, label l). Initialise q_i with
    /// the majority-vote fractions; π_c = mean_i q_ic; M-step
    /// e[w][l][c] = max(Σ_{i: w gave l} q_ic, 1e-10), then normalised over the
    /// labels l that w used. Then up to `maxIterations` times:
    ///
    ///     E:  ℓ_ic = log2 max(π_c,1e-10) + Σ_{(w,l) on i} log2 e[w][l][c]
    ///         q_ic = 2^(ℓ_ic − max_c ℓ_ic) / Σ_c 2^(ℓ_ic − max_c ℓ_ic)
    ///     π = mean_i q;   M-step on q
    ///     ELBO = [Σ_obs Σ_c q_ic (ln e[w][l][c] + ln max(π_c,1e-10))
    ///             − Σ_i Σ_c q'_ic ln q'_ic] / #observations,  q' = max(q, 1e-10)
    ///
    /// stopping when ELBO − previous ELBO < `tolerance`. Only classes that some
    /// annotator used take part (as in crowd-kit); items without labels are
    /// left out of the fit.
    ///
    /// - Throws: `LabelQualityError` from `validateMultiannotator` (except that
    ///   unlabelled items are allowed), or for non-positive `maxIterations`.
    public static func dawidSkene(
        _ labels: [[Int?]], numClasses: Int? = nil, maxIterations: Int = 100, tolerance: Double = 1e-5
    ) throws -> DawidSkeneResult {
        guard maxIterations >= 0 else {
            throw LabelQualityError("dawid_skene: n_iter must be ≥ 0 (got \(maxIterations))")
        }
        // Validate shape and range; unlabelled items are tolerated here.
        let m = labels.first?.count ?? 0
        var maxLabel = -1
        guard !labels.isEmpty, m > 0 else {
            throw LabelQualityError("labels_multiannotator: the table has no items or no annotators")
        }
        for (i, row) in labels.enumerated() {
            if row.count != m {
                throw LabelQualityError("labels_multiannotator row \(i): has \(row.count) annotators, expected \(m) (ragged table)", row: i)
            }
            for (a, v) in row.enumerated() {
                if let v {
                    if v < 0 { throw LabelQualityError("labels_multiannotator row \(i), annotator \(a): label \(v) is negative", row: i) }
                    maxLabel = max(maxLabel, v)
                }
            }
        }
        let kAll = numClasses ?? (maxLabel + 1)
        try checkClassCount(kAll, "dawid_skene")
        if maxLabel >= kAll {
            let i = labels.firstIndex { $0.contains { ($0 ?? -1) >= kAll } }!
            throw LabelQualityError("labels_multiannotator row \(i): label \(maxLabel) is outside the declared classes 0..<\(kAll)", row: i)
        }
        guard maxLabel >= 0 else {
            throw LabelQualityError("dawid_skene: no item has any label")
        }

        // Reduced class space: classes some annotator used.
        var usedFlags = [Bool](repeating: false, count: kAll)
        for row in labels { for case let v? in row { usedFlags[v] = true } }
        let used = (0..<kAll).filter { usedFlags[$0] }
        var cls = [Int](repeating: -1, count: kAll)
        for (j, c) in used.enumerated() { cls[c] = j }
        let k = used.count

        // Observations grouped by item; labels in reduced indices.
        let active = (0..<labels.count).filter { i in labels[i].contains { $0 != nil } }
        let obs: [[(w: Int, l: Int)]] = active.map { i in
            labels[i].enumerated().compactMap { a, v in v.map { (a, cls[$0]) } }
        }
        let nObs = Double(obs.reduce(0) { $0 + $1.count })
        let nItems = Double(active.count)
        let eps = 1e-10

        // Initial q: vote fractions.
        var q: [[Double]] = obs.map { o in
            var row = [Double](repeating: 0, count: k)
            for (_, l) in o { row[l] += 1 }
            let s = Double(o.count)
            return row.map { $0 / s }
        }
        // Which (w, l) pairs occur.
        var occurs = [[Bool]](repeating: [Bool](repeating: false, count: k), count: m)
        for o in obs { for (w, l) in o { occurs[w][l] = true } }

        func priorsOf(_ q: [[Double]]) -> [Double] {
            var p = [Double](repeating: 0, count: k)
            for row in q { for c in 0..<k { p[c] += row[c] } }
            return p.map { $0 / nItems }
        }
        func mStep(_ q: [[Double]]) -> [[[Double]]] {
            var e = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: k), count: k), count: m)
            for (idx, o) in obs.enumerated() {
                for (w, l) in o { for c in 0..<k { e[w][l][c] += q[idx][c] } }
            }
            for w in 0..<m {
                for l in 0..<k where occurs[w][l] {
                    for c in 0..<k { e[w][l][c] = max(e[w][l][c], eps) }
                }
                for c in 0..<k {
                    var s = 0.0
                    for l in 0..<k where occurs[w][l] { s += e[w][l][c] }
                    if s > 0 { for l in 0..<k where occurs[w][l] { e[w][l][c] /= s } }
                }
            }
            return e
        }

        var priors = priorsOf(q)
        var errors = mStep(q)
        var history: [Double] = []
        var previous = -Double.infinity
        var iterations = 0
        var converged = false
        while iterations < maxIterations {
            iterations += 1
            // E-step.
            let logPrior = priors.map { log2(max($0, eps)) }
            let logErr = errors.map { $0.map { $0.map { $0 > 0 ? log2($0) : -Double.infinity } } }
            q = obs.map { o in
                var ell = logPrior
                for (w, l) in o { for c in 0..<k { ell[c] += logErr[w][l][c] } }
                let top = ell.max()!
                var p = ell.map { exp2($0 - top) }
                let s = p.reduce(0, +)
                for c in 0..<k { p[c] /= s }
                return p
            }
            priors = priorsOf(q)
            errors = mStep(q)
            // ELBO.
            let lnPrior = priors.map { log(max($0, eps)) }
            var joint = 0.0
            var entropy = 0.0
            for (idx, o) in obs.enumerated() {
                for (w, l) in o {
                    for c in 0..<k { joint += q[idx][c] * (log(errors[w][l][c]) + lnPrior[c]) }
                }
                for c in 0..<k {
                    let qc = max(q[idx][c], eps)
                    entropy -= qc * log(qc)
                }
            }
            let elbo = (joint + entropy) / nObs
            history.append(elbo)
            if elbo - previous < tolerance {
                converged = true
                break
            }
            previous = elbo
        }

        // Expand to all K classes.
        var fullPriors = [Double](repeating: 0, count: kAll)
        for (j, c) in used.enumerated() { fullPriors[c] = priors[j] }
        var probas = [[Double]](repeating: fullPriors, count: labels.count)
        for (idx, i) in active.enumerated() {
            var row = [Double](repeating: 0, count: kAll)
            for (j, c) in used.enumerated() { row[c] = max(q[idx][j], eps) }
            probas[i] = row
        }
        let consensus = probas.map { row -> Int in
            var best = 0
            for c in 1..<row.count where row[c] > row[best] { best = c }
            return best
        }
        var fullErrors = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: kAll), count: kAll), count: m)
        for w in 0..<m {
            for (jl, l) in used.enumerated() where occurs[w][jl] {
                for (jc, c) in used.enumerated() { fullErrors[w][l][c] = errors[w][jl][jc] }
            }
        }
        return DawidSkeneResult(probas: probas, priors: fullPriors, labels: consensus, errors: fullErrors,
                                elboHistory: history, iterations: iterations, converged: converged)
    }
}
