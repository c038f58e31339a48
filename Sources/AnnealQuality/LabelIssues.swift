// Label-issue report for a labelled dataset: confident learning
// (`LabelQuality.findLabelIssues`) over out-of-sample probabilities, the
// flagged rows ranked most suspect first, and every row's quality score.

import AnnealData
import Foundation

/// Rows whose given label is likely wrong, with every row's label-quality score.
public struct LabelIssueReport: Sendable {
    /// The filter that flagged the rows (cleanlab `filter_by`).
    public var filter: LabelQuality.LabelIssueFilter
    /// The score used for ranking and `scores` (cleanlab `get_label_quality_scores`).
    public var method: LabelQuality.LabelQualityMethod
    /// Flagged 0-based row indices, most suspect first: ascending score,
    /// equal scores by ascending index.
    public var issues: [Int]
    /// Every row's label-quality score in [0, 1] (lower = more likely mislabelled).
    public var scores: [Double]
    /// The model's class per row: argmax_k P[i][k] (first index on ties).
    public var predicted: [Int]
    /// Confident learning's estimate of the number of label errors
    /// (`num_label_issues`, off-diagonal of the confident joint).
    public var estimatedIssueCount: Int

    /// Finds label issues in `labels` given out-of-sample `predProbs` (N × K).
    /// - Throws: `LabelQualityError` for labels outside 0..<K or malformed probabilities.
    public init(labels: [Int], predProbs: [[Double]],
                filter: LabelQuality.LabelIssueFilter = .pruneByNoiseRate,
                method: LabelQuality.LabelQualityMethod = .selfConfidence) throws {
        let mask = try LabelQuality.findLabelIssues(labels: labels, predProbs: predProbs, filterBy: filter)
        self.filter = filter
        self.method = method
        issues = try LabelQuality.rankLabelIssues(mask: mask, labels: labels, predProbs: predProbs, method: method)
        scores = try LabelQuality.labelQualityScores(labels: labels, predProbs: predProbs, method: method)
        predicted = predProbs.map { row in row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) } ?? 0 }
        estimatedIssueCount = try LabelQuality.numLabelIssues(labels: labels, predProbs: predProbs)
    }

    /// The report as one JSON object: `issues` (flagged rows, most suspect
    /// first), `scores` (one per row), `predicted_labels`, `filter`,
    /// `score_method`, `num_issues`, `estimated_num_label_issues`, plus `extra` fields.
    public func json(extra: [String: Any] = [:]) throws -> Data {
        var object: [String: Any] = [
            "issues": issues, "scores": scores, "predicted_labels": predicted,
            "filter": filter.rawValue, "score_method": method.rawValue,
            "num_issues": issues.count, "estimated_num_label_issues": estimatedIssueCount,
        ]
        for (key, value) in extra { object[key] = value }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}

/// Precision and recall of a set of flagged rows against the rows known to be wrong.
public struct DetectionScore: Sendable, Equatable {
    /// Rows flagged.
    public var flagged: Int
    /// Rows actually wrong.
    public var actual: Int
    /// Flagged rows that are actually wrong.
    public var truePositives: Int
    /// TP / flagged (0 when nothing is flagged).
    public var precision: Double { flagged == 0 ? 0 : Double(truePositives) / Double(flagged) }
    /// TP / actual (0 when nothing is wrong).
    public var recall: Double { actual == 0 ? 0 : Double(truePositives) / Double(actual) }

    /// Scores `flagged` against `actual` (each a set of row indices).
    public init(flagged: [Int], actual: [Int]) {
        let truth = Set(actual), found = Set(flagged)
        self.flagged = found.count
        self.actual = truth.count
        truePositives = found.intersection(truth).count
    }
}
