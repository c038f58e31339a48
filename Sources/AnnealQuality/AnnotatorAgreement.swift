// Agreement statistics and consensus labels computed from an annotator
// table, with file:line errors for the inputs each statistic cannot take.
// The formulas are `LabelQuality`'s (AnnealData, LABELQUALITY.md §3–§5, §9).

import AnnealData
import Foundation

/// Cohen's kappa for one pair of annotators.
public struct PairwiseKappa: Sendable, Equatable {
    /// Annotator positions (columns) a < b.
    public var first: Int, second: Int
    /// κ, nil when undefined (no shared items, or Σ w·E = 0).
    public var kappa: Double?
    /// Items both annotators labelled.
    public var items: Int
}

/// An agreement statistic computed from an annotator table.
public struct AgreementResult: Sendable {
    /// What was computed, e.g. `Krippendorff's alpha (interval)`.
    public var statistic: String
    /// The statistic; nil when undefined. For Cohen's kappa with more than two
    /// annotators: the mean of the defined pairwise kappas (Light's kappa).
    public var value: Double?
    /// Cohen's kappa per annotator pair (empty for the other statistics).
    public var pairs: [PairwiseKappa]
    /// Items that entered the statistic.
    public var items: Int
}

extension AnnotationTable {
    /// Cohen's kappa (scikit-learn `cohen_kappa_score`) for every pair of
    /// annotators over the items both labelled; labels are the declared list
    /// when given, else each pair's sorted union. With two annotators `value`
    /// is their κ; with more, the mean of the defined pairwise κ (Light 1971).
    /// - Throws: `DataError` when the table has fewer than two annotators.
    public func cohenKappa(weights: LabelQuality.KappaWeighting = .none) throws -> AgreementResult {
        guard annotators.count >= 2 else {
            throw DataError(file: file, message: "Cohen's kappa needs two annotator columns, found \(annotators.count)")
        }
        let labelList = declared ? categories : nil
        var pairs: [PairwiseKappa] = []
        for a in 0..<annotators.count {
            for b in (a + 1)..<annotators.count {
                var y1: [LabelQuality.Category] = [], y2: [LabelQuality.Category] = []
                for row in codes {
                    guard let x = row[a], let y = row[b] else { continue }
                    y1.append(categories[x]); y2.append(categories[y])
                }
                let kappa = try LabelQuality.cohenKappa(y1, y2, labels: labelList, weights: weights)
                pairs.append(PairwiseKappa(first: a, second: b, kappa: kappa, items: y1.count))
            }
        }
        let defined = pairs.compactMap(\.kappa)
        let name = "Cohen's kappa" + (weights == .none ? "" : " (\(weights.rawValue) weights)")
        return AgreementResult(
            statistic: pairs.count == 1 ? name : "\(name), mean over \(pairs.count) annotator pairs (Light's kappa)",
            value: defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count),
            pairs: pairs, items: pairs.map(\.items).max() ?? 0)
    }

    /// Fleiss' kappa (statsmodels `fleiss_kappa`) over the subjects ×
    /// categories count table (K = all categories, declared ones included).
    /// - Throws: `DataError` at the first item whose number of labels differs
    ///   from the first item's (statsmodels requires equal raters per subject).
    public func fleissKappa(method: LabelQuality.FleissMethod = .fleiss) throws -> AgreementResult {
        let counts = codes.map { $0.compactMap { $0 }.count }
        if let bad = counts.firstIndex(where: { $0 != counts[0] }) {
            throw error(item: bad, "this item has \(counts[bad]) labels but the first item (line \(lines[0])) has \(counts[0]); Fleiss' kappa needs the same number of labels per item")
        }
        guard counts[0] >= 2 else {
            throw error(item: 0, "every item has \(counts[0]) label\(counts[0] == 1 ? "" : "s"); Fleiss' kappa needs at least two per item")
        }
        var table = [[Int]](repeating: [Int](repeating: 0, count: categoryCount), count: itemCount)
        for (i, row) in codes.enumerated() { for case let c? in row { table[i][c] += 1 } }
        let kappa = try LabelQuality.fleissKappa(table: table, method: method)
        return AgreementResult(statistic: method == .fleiss ? "Fleiss' kappa" : "Randolph's free-marginal kappa",
                               value: kappa, pairs: [], items: itemCount)
    }

    /// The ratings as numbers for Krippendorff's alpha: for `nominal` the
    /// category codes; for `ordinal` the numbers as written when every label is
    /// a number and no label list was declared, else the category positions
    /// (declared order, or sorted); for `interval` and `ratio` the numbers as written.
    /// - Throws: `DataError` at the first label that is not a number when the level needs numbers.
    public func numericRatings(level: LabelQuality.KrippendorffLevel) throws -> [[Double?]] {
        let useCodes: Bool
        switch level {
        case .nominal: useCodes = true
        case .ordinal: useCodes = declared || cells.contains { $0.contains { $0 != nil && decimalNumber($0!) == nil } }
        case .interval, .ratio: useCodes = false
        }
        if useCodes { return codes.map { $0.map { $0.map(Double.init) } } }
        return try cells.enumerated().map { i, row in
            try row.enumerated().map { c, cell in
                guard let cell else { return nil }
                guard let v = decimalNumber(cell) else {
                    throw error(item: i, column: c + 1, "label \(quoted(cell)) is not a number; the \(level.rawValue) level needs numeric ratings (use --level nominal or ordinal)")
                }
                return v
            }
        }
    }

    /// Krippendorff's alpha (krippendorff 0.9.0; units = items, raters =
    /// annotators; empty cells missing). The package's default level is `interval`.
    /// - Throws: `DataError` for a non-numeric rating at a numeric level, for
    ///   single-valued data (every rating the same: α needs two distinct
    ///   values) and when no item has two or more ratings.
    public func krippendorffAlpha(level: LabelQuality.KrippendorffLevel = .interval) throws -> AgreementResult {
        let ratings = try numericRatings(level: level)
        let present = cells.flatMap { $0.compactMap { $0 } }
        let distinct = Set(ratings.flatMap { $0.compactMap { $0 } })
        if distinct.count <= 1 {
            let what = present.first.map { "is \(quoted($0))" } ?? "is missing"
            throw DataError(file: file, message: "single-valued data: every one of the \(present.count) ratings (\(lineRange)) \(what); Krippendorff's alpha needs at least two distinct values")
        }
        let pairable = ratings.filter { $0.compactMap { $0 }.count >= 2 }.count
        if pairable == 0 {
            throw DataError(file: file, message: "no item (\(lineRange)) has two or more ratings, so there is nothing to compare; Krippendorff's alpha needs items rated by at least two annotators")
        }
        let reliability = (0..<annotators.count).map { a in ratings.map { $0[a] } }
        let alpha = try LabelQuality.krippendorffAlpha(reliabilityData: reliability, level: level)
        return AgreementResult(statistic: "Krippendorff's alpha (\(level.rawValue))", value: alpha, pairs: [], items: pairable)
    }
}

// MARK: - Consensus

/// How `aggregate` forms consensus labels.
public enum AggregationMethod: String, Sendable, CaseIterable {
    /// Majority vote with cleanlab's tie-break (`get_majority_vote_label`).
    case majority
    /// Dawid–Skene EM (crowd-kit `DawidSkene(n_iter=100, tol=1e-5)`).
    case dawidSkene = "dawid-skene"
}

/// One annotator's record against the consensus.
public struct AnnotatorSummary: Sendable {
    /// The annotator's name (header field).
    public var name: String
    /// Items this annotator labelled.
    public var labelled: Int
    /// Fraction of those items on which the annotator gave the consensus label
    /// (cleanlab `agreement_with_consensus`); nil when they labelled nothing.
    public var agreement: Double?
    /// Dawid–Skene only: confusion[c][l] = P(annotator says l | true class c),
    /// K × K, each row summing to 1 over the labels the annotator used.
    public var confusion: [[Double]]?
}

/// Consensus labels and the annotator report.
public struct AggregationReport: Sendable {
    /// The method used.
    public var method: AggregationMethod
    /// Category names in code order.
    public var categories: [String]
    /// Consensus category code per item.
    public var consensus: [Int]
    /// Per item: Dawid–Skene's posterior of the consensus class, or for
    /// majority vote the fraction of the item's annotators that gave it.
    public var confidence: [Double]
    /// Annotations per item.
    public var annotations: [Int]
    /// One summary per annotator, in column order.
    public var annotators: [AnnotatorSummary]
    /// Dawid–Skene: class priors π; nil for majority vote.
    public var priors: [Double]?
    /// Dawid–Skene: EM iterations run and whether the ELBO converged.
    public var iterations: Int?, converged: Bool?
}

extension AnnotationTable {
    /// Consensus labels for every item plus each annotator's agreement with
    /// them (and, for Dawid–Skene, their confusion matrices and the priors).
    /// - Throws: `DataError` at an item nobody labelled.
    public func aggregate(method: AggregationMethod = .majority) throws -> AggregationReport {
        if let empty = codes.firstIndex(where: { $0.allSatisfy { $0 == nil } }) {
            throw error(item: empty, "no annotator labelled this item; every item needs at least one label to aggregate")
        }
        let k = categoryCount
        var consensus: [Int]
        var confidence: [Double]
        var confusion: [[[Double]]]? = nil
        var priors: [Double]? = nil
        var iterations: Int? = nil, converged: Bool? = nil
        switch method {
        case .majority:
            consensus = try LabelQuality.majorityVote(codes, numClasses: k)
            confidence = try LabelQuality.itemAgreementWithConsensus(codes, consensus: consensus)
        case .dawidSkene:
            let ds = try LabelQuality.dawidSkene(codes, numClasses: k)
            consensus = ds.labels
            confidence = ds.labels.enumerated().map { ds.probas[$0.offset][$0.element] }
            confusion = ds.errors.map { e in (0..<k).map { c in (0..<k).map { l in e[l][c] } } }
            priors = ds.priors
            iterations = ds.iterations
            converged = ds.converged
        }
        let agreement = try LabelQuality.annotatorAgreementWithConsensus(codes, consensus: consensus)
        let summaries = annotators.indices.map { a in
            AnnotatorSummary(name: annotators[a], labelled: codes.filter { $0[a] != nil }.count,
                             agreement: agreement[a], confusion: confusion?[a])
        }
        return AggregationReport(method: method, categories: categories.map(\.description), consensus: consensus,
                                 confidence: confidence, annotations: LabelQuality.numAnnotations(codes),
                                 annotators: summaries, priors: priors, iterations: iterations, converged: converged)
    }
}
