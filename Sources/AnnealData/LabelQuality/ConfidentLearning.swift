// Confident learning: per-class thresholds, the confident joint and its
// calibration, label-issue detection (`find_label_issues`) and label quality
// scores, in Double precision.
//
// Reference behaviour: /work/shared/conformance/LABELQUALITY.md §6–§8
// (cleanlab 2.9.0). Sums that decide rounding ties use numpy's pairwise
// summation order so that the calibrated confident joint is bit-compatible
// with cleanlab (§6.4, "strict" tier). Only Foundation is used.

import Foundation

extension LabelQuality {
    /// Largest allowed |Σ_k P[i][k] − 1| for a row of `pred_probs`.
    public static let predProbsSumTolerance = 1e-3

    /// Checks an N × K matrix of predicted class probabilities.
    ///
    /// - Parameters:
    ///   - count: required number of rows N (one per item), if known.
    ///   - numClasses: required number of columns K; default: the first row's.
    /// - Returns: K.
    /// - Throws: `LabelQualityError` naming the row for: wrong row count, no
    ///   columns, a row with the wrong number of entries, a non-finite or
    ///   out-of-[0, 1] entry, or a row whose sum differs from 1 by more than
    ///   `predProbsSumTolerance`.
    @discardableResult
    public static func validatePredProbs(_ predProbs: [[Double]], count: Int? = nil, numClasses: Int? = nil) throws -> Int {
        if let count, predProbs.count != count {
            throw LabelQualityError("pred_probs has \(predProbs.count) rows but there are \(count) items (need one row per item)")
        }
        guard let first = predProbs.first else {
            throw LabelQualityError("pred_probs has no rows")
        }
        let k = numClasses ?? first.count
        guard k >= 1 else { throw LabelQualityError("pred_probs row 0: has no columns", row: 0) }
        for (i, row) in predProbs.enumerated() {
            if row.count != k {
                throw LabelQualityError("pred_probs row \(i): has \(row.count) entries, expected \(k) (one per class)", row: i)
            }
            var s = 0.0
            for (j, p) in row.enumerated() {
                if !p.isFinite || p < 0 || p > 1 {
                    throw LabelQualityError("pred_probs row \(i), class \(j): \(p) is not a probability in [0, 1]", row: i)
                }
                s += p
            }
            if abs(s - 1) > predProbsSumTolerance {
                throw LabelQualityError("pred_probs row \(i): sums to \(s), not 1 (tolerance \(predProbsSumTolerance))", row: i)
            }
        }
        return k
    }

    /// Checks given labels against K classes and, if supplied, `predProbs`
    /// (one row per label, K columns). Returns K (from `predProbs` when given).
    ///
    /// - Throws: `LabelQualityError` naming the row for an empty label list,
    ///   labels outside 0..<K, or any `validatePredProbs` problem.
    @discardableResult
    public static func validateLabels(_ labels: [Int], predProbs: [[Double]]? = nil, numClasses: Int? = nil) throws -> Int {
        guard !labels.isEmpty else { throw LabelQualityError("labels: no items") }
        let k: Int
        if let predProbs {
            k = try validatePredProbs(predProbs, count: labels.count, numClasses: numClasses)
        } else {
            k = numClasses ?? ((labels.max() ?? -1) + 1)
        }
        try checkClassCount(k, "labels")
        for (i, l) in labels.enumerated() where l < 0 || l >= k {
            throw LabelQualityError("labels row \(i): label \(l) is outside the classes 0..<\(k) (pred_probs has \(k) columns)", row: i)
        }
        return k
    }

    // MARK: numpy-compatible arithmetic

    /// Sum in numpy's pairwise order (`np.add.reduce` on float64): fewer than
    /// 8 values left to right; up to 128 values with 8 interleaved running
    /// sums combined ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the remainder
    /// left to right; longer inputs split at ⌊n/2⌋ rounded down to a multiple
    /// of 8 and summed recursively.
    public static func pairwiseSum(_ x: [Double]) -> Double {
        x.withUnsafeBufferPointer { pairwiseSum($0, 0, $0.count) }
    }

    private static func pairwiseSum(_ a: UnsafeBufferPointer<Double>, _ start: Int, _ n: Int) -> Double {
        if n < 8 {
            var res = 0.0
            for i in 0..<n { res += a[start + i] }
            return res
        } else if n <= 128 {
            var r = [Double](repeating: 0, count: 8)
            for j in 0..<8 { r[j] = a[start + j] }
            var i = 8
            while i < n - (n % 8) {
                for j in 0..<8 { r[j] += a[start + i + j] }
                i += 8
            }
            var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n {
                res += a[start + i]
                i += 1
            }
            return res
        } else {
            var n2 = n / 2
            n2 -= n2 % 8
            return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2)
        }
    }

    /// Rounds each x_j to an integer so that the total equals the rounded
    /// total (cleanlab `round_preserving_sum`).
    ///
    /// ints_j = rhe(x_j), S = rhe(Σx), I = rhe(Σ ints) (rhe = round half to
    /// even). While |I − S| > 1e-6: d = rhe(S − I), step = ±1 (sign of d, +1
    /// for 0), n = min(|d|, count); with residuals r_j = x_j − ints_j, add step
    /// to the n entries with the largest r_j (step +1) or the smallest r_j
    /// (step −1); recompute I. Equal residuals are ordered stably by index
    /// (ascending sort, so a +1 goes to the highest index among equals).
    ///
    /// Non-finite inputs are returned rounded without the fix-up loop.
    public static func roundPreservingSum(_ x: [Double]) -> [Int] {
        var ints = x.map { $0.rounded(.toNearestOrEven) }
        // Beyond ±2^52 every double is already an integer; guard Int conversion.
        func toInt(_ d: Double) -> Int { d.isFinite ? Int(max(min(d, 4.5e15), -4.5e15)) : 0 }
        guard x.allSatisfy({ $0.isFinite && abs($0) < 4.5e15 }) else { return ints.map(toInt) }
        let target = pairwiseSum(x).rounded(.toNearestOrEven)
        var current = pairwiseSum(ints).rounded(.toNearestOrEven)
        var guardCount = 0
        while abs(current - target) > 1e-6 && guardCount < 1_000_000 {
            guardCount += 1
            let d = (target - current).rounded(.toNearestOrEven)
            let step: Double = d >= 0 ? 1 : -1
            let n = min(Int(abs(d)), x.count)
            let residual = (0..<x.count).map { x[$0] - ints[$0] }
            let order = stableArgsort(residual)
            let chosen = step > 0 ? order.suffix(n) : order.prefix(n)
            for j in chosen { ints[j] += step }
            current = pairwiseSum(ints).rounded(.toNearestOrEven)
        }
        return ints.map(toInt)
    }

    /// Indices sorting `keys` ascending; equal keys keep ascending index order.
    static func stableArgsort(_ keys: [Double]) -> [Int] {
        (0..<keys.count).sorted { a, b in
            keys[a] < keys[b] || (keys[a] == keys[b] && a < b)
        }
    }

    /// First index of the maximum of `row` (numpy `argmax`).
    static func argmax(_ row: [Double]) -> Int {
        var best = 0
        for j in 1..<max(row.count, 1) where row[j] > row[best] { best = j }
        return best
    }

    // MARK: Thresholds and confident joint

    /// Per-class confident thresholds (cleanlab `get_confident_thresholds`):
    /// t_k = mean of P[i][k] over the items with l_i = k (the class's mean
    /// self-confidence, summed in numpy's pairwise order); t_k = 2.0 for a
    /// class with no item; then t_k = max(t_k, 2e-6).
    ///
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs`.
    public static func confidentThresholds(labels: [Int], predProbs: [[Double]]) throws -> [Double] {
        let k = try validateLabels(labels, predProbs: predProbs)
        return thresholds(labels, predProbs, k)
    }

    static func thresholds(_ labels: [Int], _ p: [[Double]], _ k: Int) -> [Double] {
        var values = [[Double]](repeating: [], count: k)
        for (i, l) in labels.enumerated() { values[l].append(p[i][l]) }
        return values.map { v in
            let t = v.isEmpty ? 2.0 : pairwiseSum(v) / Double(v.count)
            return max(t, 2e-6)
        }
    }

    /// The uncalibrated confident joint and the items it places off the
    /// diagonal (cleanlab `compute_confident_joint(calibrate=False,
    /// return_indices_of_off_diagonals=True)`).
    ///
    /// For item i, S_i = {k : P[i][k] ≥ t_k − 1e-6}. |S_i| = 0: not counted;
    /// |S_i| = 1: guess g_i = that class; |S_i| ≥ 2: g_i = argmax_k P[i][k]
    /// over *all* classes (cleanlab's behaviour, first index on ties).
    /// C[l_i][g_i] += 1; finally C[k][k] = max(C[k][k], 1) for every k.
    /// Rows are given labels, columns guessed true labels.
    ///
    /// - Parameter thresholds: t_k; default `confidentThresholds`.
    /// - Returns: C (K × K) and the ascending indices of items with g_i ≠ l_i.
    /// - Throws: `LabelQualityError` for invalid inputs or a threshold list
    ///   whose length is not K.
    public static func computeConfidentJoint(
        labels: [Int], predProbs: [[Double]], thresholds given: [Double]? = nil
    ) throws -> (confidentJoint: [[Int]], offDiagonalIndices: [Int]) {
        let k = try validateLabels(labels, predProbs: predProbs)
        if let given, given.count != k {
            throw LabelQualityError("thresholds has \(given.count) entries, expected \(k)")
        }
        return confidentJoint(labels, predProbs, given ?? thresholds(labels, predProbs, k), k)
    }

    static func confidentJoint(_ labels: [Int], _ p: [[Double]], _ t: [Double], _ k: Int)
        -> (confidentJoint: [[Int]], offDiagonalIndices: [Int])
    {
        var c = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var off: [Int] = []
        for (i, row) in p.enumerated() {
            var count = 0
            var single = -1
            for j in 0..<k where row[j] >= t[j] - 1e-6 {
                count += 1
                single = j
            }
            if count == 0 { continue }
            let g = count == 1 ? single : argmax(row)
            c[labels[i]][g] += 1
            if g != labels[i] { off.append(i) }
        }
        for j in 0..<k { c[j][j] = max(c[j][j], 1) }
        return (c, off)
    }

    /// Calibrates a confident joint to the label counts (cleanlab
    /// `calibrate_confident_joint`). With c_i = #items labelled i and N = Σc:
    ///
    ///     A[i][j] = C[i][j] / max(Σ_j C[i][j], 1e-100) · c_i
    ///     B[i][j] = A[i][j] / max(Σ A, 1e-100) · N
    ///
    /// (Σ A summed in column-major, numpy pairwise order), then each row of B
    /// is rounded with `roundPreservingSum`. Rows sum to c_i, the total is N,
    /// a class with no items gets an all-zero row.
    ///
    /// - Throws: `LabelQualityError` if C is not K × K or a label is outside
    ///   0..<K.
    public static func calibrateConfidentJoint(_ confidentJoint: [[Int]], labels: [Int]) throws -> [[Int]] {
        let k = confidentJoint.count
        for (i, row) in confidentJoint.enumerated() where row.count != k {
            throw LabelQualityError("confident joint row \(i): has \(row.count) entries, expected \(k) (must be square)", row: i)
        }
        try validateLabels(labels, numClasses: k)
        return calibrate(confidentJoint, labels, k)
    }

    static func calibrate(_ c: [[Int]], _ labels: [Int], _ k: Int) -> [[Int]] {
        let tiny = 1e-100
        var counts = [Double](repeating: 0, count: k)
        for l in labels { counts[l] += 1 }
        let total = Double(labels.count)
        var a = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            let rowSum = Double(c[i].reduce(0, +))
            for j in 0..<k { a[i][j] = Double(c[i][j]) / max(rowSum, tiny) * counts[i] }
        }
        var columnMajor: [Double] = []
        columnMajor.reserveCapacity(k * k)
        for j in 0..<k { for i in 0..<k { columnMajor.append(a[i][j]) } }
        let t = max(pairwiseSum(columnMajor), tiny)
        return a.map { row in roundPreservingSum(row.map { $0 / t * total }) }
    }

    /// Everything `confident_joint`-related for one labelled dataset.
    public struct ConfidentJointAnalysis: Sendable {
        /// Per-class thresholds t_k (`confidentThresholds`).
        public var thresholds: [Double]
        /// Uncalibrated confident joint C (rows given label, columns guessed).
        public var confidentJoint: [[Int]]
        /// Calibrated confident joint (rows sum to the label counts).
        public var calibratedConfidentJoint: [[Int]]
        /// Estimated joint p(given label, true label) = calibrated / Σ calibrated.
        public var joint: [[Double]]
        /// Ascending indices of items counted off the diagonal of C.
        public var offDiagonalIndices: [Int]
        /// `num_label_issues` (off_diagonal): off-diagonal items surviving the
        /// 1e-6 nudge test.
        public var numLabelIssues: Int
    }

    /// Computes thresholds, confident joint (raw and calibrated), the
    /// estimated joint, the off-diagonal items and `num_label_issues` in one
    /// pass (see the individual functions for the math).
    ///
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs`.
    public static func analyzeConfidentJoint(labels: [Int], predProbs: [[Double]]) throws -> ConfidentJointAnalysis {
        let k = try validateLabels(labels, predProbs: predProbs)
        let t = thresholds(labels, predProbs, k)
        let (c, off) = confidentJoint(labels, predProbs, t, k)
        let cal = calibrate(c, labels, k)
        let joint = normalizedJoint(cal)
        let n = off.filter { survivesNudge(predProbs[$0], labels[$0]) }.count
        return ConfidentJointAnalysis(thresholds: t, confidentJoint: c, calibratedConfidentJoint: cal,
                                      joint: joint, offDiagonalIndices: off, numLabelIssues: n)
    }

    static func normalizedJoint(_ cal: [[Int]]) -> [[Double]] {
        let s = Double(cal.reduce(0) { $0 + $1.reduce(0, +) })
        let d = max(s, 1e-100)
        return cal.map { $0.map { Double($0) / d } }
    }

    /// Estimated joint distribution of (given label, true label), cleanlab
    /// `estimate_joint`: the calibrated confident joint divided by its total.
    /// Sums to 1; row i sums to p(given label = i).
    ///
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs`.
    public static func estimateJoint(labels: [Int], predProbs: [[Double]]) throws -> [[Double]] {
        try analyzeConfidentJoint(labels: labels, predProbs: predProbs).joint
    }

    /// Number of label issues, cleanlab `num_label_issues` with
    /// `estimation_method="off_diagonal"`: the off-diagonal items of the
    /// uncalibrated confident joint that survive the 1e-6 nudge (an item whose
    /// given label is within 1e-6 of the model's top class is never an issue).
    ///
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs`.
    public static func numLabelIssues(labels: [Int], predProbs: [[Double]]) throws -> Int {
        try analyzeConfidentJoint(labels: labels, predProbs: predProbs).numLabelIssues
    }

    /// The 1e-6 nudge test: true when argmax_k (P[k] + 1e-6·[k = label]) is
    /// not the given label (first index on equal values).
    static func survivesNudge(_ row: [Double], _ label: Int) -> Bool {
        var best = 0
        var bestValue = row[0] + (label == 0 ? 1e-6 : 0)
        for j in 1..<row.count {
            let v = row[j] + (label == j ? 1e-6 : 0)
            if v > bestValue {
                best = j
                bestValue = v
            }
        }
        return best != label
    }

    // MARK: find_label_issues

    /// How `findLabelIssues` selects label issues (cleanlab `filter_by`).
    public enum LabelIssueFilter: String, Sendable, CaseIterable {
        /// Per given class k and guessed class j ≠ k, flag the Q[j][k] items
        /// labelled k with the largest margin P[i][j] − P[i][k] (default).
        case pruneByNoiseRate = "prune_by_noise_rate"
        /// Per class k, flag the c_k − Q[k][k] items labelled k with the
        /// smallest P[i][k].
        case pruneByClass = "prune_by_class"
        /// Items flagged by both `pruneByNoiseRate` and `pruneByClass`.
        case both
        /// Off-diagonal items of the uncalibrated confident joint.
        case confidentLearning = "confident_learning"
        /// Items whose argmax prediction differs from the given label.
        case predictedNeqGiven = "predicted_neq_given"
        /// The `numLabelIssues` items with the lowest self-confidence.
        case lowSelfConfidence = "low_self_confidence"
        /// The `numLabelIssues` items with the lowest normalized margin.
        case lowNormalizedMargin = "low_normalized_margin"
    }

    /// Prune-count matrix Q (cleanlab §7.1): Q = transpose(calibrated C), so
    /// column k = given label k and row j = guessed true class j. Per column:
    /// d_k = max(Q[k][k], n_min) − Q[k][k], z_k = max(#non-zero entries − 1, 1),
    /// every entry becomes max(Q[r][k] − d_k/z_k, 0) and the diagonal
    /// max(Q[k][k], n_min); then off-diagonals are multiplied by `fracNoise`
    /// with the removed mass added to the diagonal, and every entry is
    /// truncated toward zero.
    static func pruneCountMatrix(_ calibrated: [[Int]], minExamplesPerClass nMin: Int, fracNoise: Double) -> [[Int]] {
        let k = calibrated.count
        var q = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for j in 0..<k { for c in 0..<k { q[j][c] = Double(calibrated[c][j]) } }
        let nm = Double(nMin)
        for c in 0..<k {
            let diag = q[c][c]
            let d = max(diag, nm) - diag
            let nonzero = (0..<k).filter { q[$0][c] != 0 }.count
            let z = Double(max(nonzero - 1, 1))
            for r in 0..<k { q[r][c] = max(q[r][c] - d / z, 0) }
            q[c][c] = max(diag, nm)
        }
        var out = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for c in 0..<k {
            var removed = 0.0
            var column = [Double](repeating: 0, count: k)
            for r in 0..<k where r != c {
                column[r] = q[r][c] * fracNoise
                removed += q[r][c] - column[r]
            }
            column[c] = q[c][c] + removed
            for r in 0..<k { out[r][c] = Int(column[r].rounded(.towardZero)) }
        }
        return out
    }

    /// Finds likely label errors (cleanlab `filter.find_label_issues`).
    ///
    /// Default `pruneByNoiseRate`: with Q the prune-count matrix built from
    /// the calibrated confident joint, for each class k with more than
    /// `minExamplesPerClass` items and each j ≠ k with m = Q[j][k] > 0, flag
    /// the m items labelled k with the largest P[i][j] − P[i][k]; flags are
    /// OR-ed. See `LabelIssueFilter` for the other rules. Every filter except
    /// the two `low…` ones then unflags items that fail the 1e-6 nudge test
    /// (given label within 1e-6 of the top class). Classes with at most
    /// `minExamplesPerClass` items are never flagged by the prune filters.
    ///
    /// `predProbs` must be out-of-sample (cross-validated) probabilities.
    ///
    /// - Parameters:
    ///   - fracNoise: fraction of the estimated noise to prune (1 = all).
    ///   - minExamplesPerClass: n_min, items to keep per class.
    /// - Returns: one Bool per item (true = likely mislabelled).
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs` or a
    ///   `fracNoise` outside (0, 1].
    public static func findLabelIssues(
        labels: [Int], predProbs: [[Double]], filterBy: LabelIssueFilter = .pruneByNoiseRate,
        fracNoise: Double = 1.0, minExamplesPerClass: Int = 1
    ) throws -> [Bool] {
        let k = try validateLabels(labels, predProbs: predProbs)
        guard fracNoise > 0, fracNoise <= 1 else {
            throw LabelQualityError("frac_noise must be in (0, 1], got \(fracNoise)")
        }
        let n = labels.count
        let t = thresholds(labels, predProbs, k)
        let (c, off) = confidentJoint(labels, predProbs, t, k)

        var classItems = [[Int]](repeating: [], count: k)
        for (i, l) in labels.enumerated() { classItems[l].append(i) }

        func pruneMasks() -> (noiseRate: [Bool], byClass: [Bool]) {
            let q = pruneCountMatrix(calibrate(c, labels, k), minExamplesPerClass: minExamplesPerClass, fracNoise: fracNoise)
            var noise = [Bool](repeating: false, count: n)
            var byClass = [Bool](repeating: false, count: n)
            for cls in 0..<k where classItems[cls].count > minExamplesPerClass {
                let items = classItems[cls]
                for j in 0..<k where j != cls {
                    let m = q[j][cls]
                    guard m > 0 else { continue }
                    let margins = items.map { predProbs[$0][j] - predProbs[$0][cls] }
                    for pos in stableArgsort(margins).suffix(m) { noise[items[pos]] = true }
                }
                let remove = items.count - q[cls][cls]
                if remove > 0 {
                    let own = items.map { predProbs[$0][cls] }
                    for pos in stableArgsort(own).prefix(remove) { byClass[items[pos]] = true }
                }
            }
            return (noise, byClass)
        }

        var mask = [Bool](repeating: false, count: n)
        switch filterBy {
        case .pruneByNoiseRate:
            mask = pruneMasks().noiseRate
        case .pruneByClass:
            mask = pruneMasks().byClass
        case .both:
            let m = pruneMasks()
            mask = zip(m.noiseRate, m.byClass).map { $0 && $1 }
        case .confidentLearning:
            for i in off { mask[i] = true }
        case .predictedNeqGiven:
            for i in 0..<n where argmax(predProbs[i]) != labels[i] { mask[i] = true }
        case .lowSelfConfidence, .lowNormalizedMargin:
            let count = off.filter { survivesNudge(predProbs[$0], labels[$0]) }.count
            let scores = qualityScores(labels, predProbs, filterBy == .lowSelfConfidence ? .selfConfidence : .normalizedMargin)
            for i in stableArgsort(scores).prefix(count) { mask[i] = true }
            return mask
        }
        for i in 0..<n where mask[i] && !survivesNudge(predProbs[i], labels[i]) { mask[i] = false }
        return mask
    }

    /// Indices of the flagged items ordered from most to least likely
    /// mislabelled: ascending label quality score (`labelQualityScores` with
    /// `method`, unadjusted); equal scores by ascending index (cleanlab
    /// `find_label_issues(return_indices_ranked_by=…)`).
    ///
    /// - Throws: `LabelQualityError` for invalid inputs or a mask whose length
    ///   is not the number of items.
    public static func rankLabelIssues(
        mask: [Bool], labels: [Int], predProbs: [[Double]], method: LabelQualityMethod = .selfConfidence
    ) throws -> [Int] {
        try validateLabels(labels, predProbs: predProbs)
        guard mask.count == labels.count else {
            throw LabelQualityError("label-issue mask has \(mask.count) entries but there are \(labels.count) items")
        }
        let flagged = (0..<mask.count).filter { mask[$0] }
        let scores = try labelQualityScores(labels: labels, predProbs: predProbs, method: method)
        return flagged.sorted { a, b in scores[a] < scores[b] || (scores[a] == scores[b] && a < b) }
    }

    // MARK: Label quality scores

    /// Label quality score (cleanlab `rank.get_label_quality_scores`); lower
    /// means more likely mislabelled, all in [0, 1]. With s_i = P[i][l_i]:
    public enum LabelQualityMethod: String, Sendable, CaseIterable {
        /// s_i.
        case selfConfidence = "self_confidence"
        /// (s_i − max_{k≠l_i} P[i][k] + 1) / 2.
        case normalizedMargin = "normalized_margin"
        /// H_i = −Σ_k P[i][k] ln P[i][k] / ln K (0·ln 0 = 0),
        /// q = H_i / max(s_i, 1e-6), score = ln(q + 1) / max(q, 1e-6).
        case confidenceWeightedEntropy = "confidence_weighted_entropy"
    }

    /// Per-item label quality scores (see `LabelQualityMethod`).
    ///
    /// With `adjustPredProbs` (not for entropy) the scores are computed on
    /// P'[i][k] = (P[i][k] − t_k) + max_k t_k, each row divided by its sum,
    /// with t_k the confident thresholds (an absent class has t = 2).
    ///
    /// - Throws: `LabelQualityError` for invalid labels / `predProbs`,
    ///   `adjustPredProbs` with entropy, or entropy with a single class.
    public static func labelQualityScores(
        labels: [Int], predProbs: [[Double]], method: LabelQualityMethod = .selfConfidence,
        adjustPredProbs: Bool = false
    ) throws -> [Double] {
        let k = try validateLabels(labels, predProbs: predProbs)
        if method == .confidenceWeightedEntropy {
            if adjustPredProbs {
                throw LabelQualityError("adjust_pred_probs is not supported for confidence_weighted_entropy")
            }
            if k < 2 {
                throw LabelQualityError("confidence_weighted_entropy needs at least 2 classes")
            }
        }
        var p = predProbs
        if adjustPredProbs {
            let t = thresholds(labels, predProbs, k)
            let top = t.max()!
            p = predProbs.map { row in
                let shifted = (0..<k).map { (row[$0] - t[$0]) + top }
                let s = shifted.reduce(0, +)
                return shifted.map { $0 / s }
            }
        }
        return qualityScores(labels, p, method)
    }

    static func qualityScores(_ labels: [Int], _ p: [[Double]], _ method: LabelQualityMethod) -> [Double] {
        switch method {
        case .selfConfidence:
            return labels.enumerated().map { p[$0.offset][$0.element] }
        case .normalizedMargin:
            return labels.enumerated().map { i, l in
                let row = p[i]
                var other = -Double.infinity
                for j in 0..<row.count where j != l { other = max(other, row[j]) }
                if !other.isFinite { other = 0 }
                return (row[l] - other + 1) / 2
            }
        case .confidenceWeightedEntropy:
            return labels.enumerated().map { i, l in
                let row = p[i]
                var h = 0.0
                for v in row where v > 0 { h -= v * log(v) }
                h /= log(Double(row.count))
                let q = h / max(row[l], 1e-6)
                return log(q + 1) / max(q, 1e-6)
            }
        }
    }
}
