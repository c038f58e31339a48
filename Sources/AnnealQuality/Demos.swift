// The three label-quality demos (noisy digits, digits pruning, Rotten
// Tomatoes near-duplicates): each runs an experiment end to end and formats
// its measured numbers as Markdown tables.

import AnnealData
import Foundation

/// Synthetic label noise for experiments.
public enum LabelNoise {
    /// Flips round(fraction·N) rows, chosen uniformly without replacement with
    /// `DataRNG(seed)`, each to a class drawn uniformly from the other C − 1.
    /// - Returns: the noisy labels and the flipped rows (ascending).
    public static func flip(_ labels: [Int], classCount: Int, fraction: Double, seed: UInt64) -> (labels: [Int], flipped: [Int]) {
        precondition(classCount >= 2 && (0...1).contains(fraction), "flip needs ≥ 2 classes and a fraction in [0, 1]")
        var rng = DataRNG(seed: seed)
        var order = Array(labels.indices)
        rng.shuffle(&order)
        let flipped = order.prefix(Int((fraction * Double(labels.count)).rounded())).sorted()
        var noisy = labels
        for i in flipped {
            let other = rng.nextInt(below: classCount - 1)
            noisy[i] = other >= labels[i] ? other + 1 : other
        }
        return (noisy, flipped)
    }
}

// MARK: - (a) Noisy digits

/// Demo (a): flip a fraction of a data set's training labels, find them with
/// confident learning on Anneal's cross-validated MLP, and compare test
/// accuracy after training on the noisy vs the cleaned labels.
public enum NoisyLabelsDemo {
    /// What the demo measured.
    public struct Result: Sendable {
        /// Rows of the data set, of its training and test split, and classes.
        public var rows: Int, trainRows: Int, testRows: Int, classes: Int
        /// Fraction of labels flipped, cross-validation folds, MLPs per fold, demo seed.
        public var noise: Double, folds: Int, ensemble: Int, seed: UInt64
        /// Rows whose training label was flipped (indices into the training rows).
        public var flipped: [Int]
        /// The label-issue report on the noisy training labels.
        public var report: LabelIssueReport
        /// Flagged vs flipped.
        public var detection: DetectionScore
        /// The same detection on every row of the data set (flips with seed `seed + 3`),
        /// the setting of the cleanlab + logistic-regression reference (0.91 / 0.91).
        public var allRowsDetection: DetectionScore
        /// Held-out accuracy of the cross-validated models against the noisy labels.
        public var crossValidationAccuracy: Double
        /// Test accuracy per training seed: noisy labels, flagged rows removed, true labels.
        public var noisyAccuracy: [Double], cleanedAccuracy: [Double], trueAccuracy: [Double]

        /// Two Markdown tables: detection, then test accuracy.
        public var markdown: String {
            func mean(_ a: [Double]) -> Double { a.reduce(0, +) / Double(max(a.count, 1)) }
            let pct = Int((noise * 100).rounded())
            return """
            | rows searched | labels flipped | flagged | correctly flagged | precision | recall |
            | --- | --- | --- | --- | --- | --- |
            | training split (\(trainRows) of \(rows)) | \(flipped.count) (\(pct) %) | \(detection.flagged) | \(detection.truePositives) | \(fixed(detection.precision)) | \(fixed(detection.recall)) |
            | all \(rows) rows | \(allRowsDetection.actual) (\(pct) %) | \(allRowsDetection.flagged) | \(allRowsDetection.truePositives) | \(fixed(allRowsDetection.precision)) | \(fixed(allRowsDetection.recall)) |

            | training labels | training rows | test accuracy (mean of \(noisyAccuracy.count) seeds) |
            | --- | --- | --- |
            | noisy (\(pct) % flipped) | \(trainRows) | \(fixed(mean(noisyAccuracy), 4)) |
            | cleaned (flagged rows removed) | \(trainRows - detection.flagged) | \(fixed(mean(cleanedAccuracy), 4)) |
            | true labels (reference) | \(trainRows) | \(fixed(mean(trueAccuracy), 4)) |
            """
        }
    }

    /// Runs the demo on a labelled numeric data set.
    ///
    /// Protocol: split off `testFraction` of the rows as a clean test set
    /// (`DataSplit.trainValidation`, seed `seed`); flip `noise` of the training
    /// labels (`LabelNoise.flip`, seed `seed + 1`); out-of-sample probabilities
    /// by stratified `folds`-fold cross-validation of the MLP on the noisy
    /// training labels; `LabelIssueReport` (prune_by_noise_rate); then train
    /// MLPs (one per seed in `trainSeeds`) on the noisy labels, on the noisy
    /// labels minus the flagged rows, and on the true labels, and measure
    /// test accuracy.
    public static func run(_ data: CSVDataset, noise: Double = 0.1, folds: Int = 5, testFraction: Double = 0.2,
                           seed: UInt64 = 2024, trainSeeds: [UInt64] = [1, 2, 3, 4, 5], config: MLPClassifierConfig = .init(),
                           ensemble: Int = 3, progress: ((String) -> Void)? = nil) throws -> Result {
        let f = data.featureCount, c = data.classCount
        let split = DataSplit.trainValidation(count: data.rowCount, validationFraction: testFraction, seed: seed)
        let train = data.subset(split.train), test = data.subset(split.validation)
        let (noisy, flipped) = LabelNoise.flip(train.labels, classCount: c, fraction: noise, seed: seed &+ 1)
        var foldAccuracy: [Double] = []
        let cv = try CrossValidation.outOfSampleProbabilities(
            features: train.features, featureCount: f, labels: noisy, classCount: c, folds: folds, seed: seed &+ 2,
            config: config, ensemble: ensemble) { fold, accuracy in
                foldAccuracy.append(accuracy)
                progress?("fold \(fold + 1)/\(folds): held-out accuracy vs noisy labels \(fixed(accuracy, 4))")
            }
        let report = try LabelIssueReport(labels: noisy, predProbs: cv.probabilities)
        let detection = DetectionScore(flagged: report.issues, actual: flipped)
        progress?("flagged \(detection.flagged), \(detection.truePositives) of them flipped: precision \(fixed(detection.precision)), recall \(fixed(detection.recall))")
        let (allNoisy, allFlipped) = LabelNoise.flip(data.labels, classCount: c, fraction: noise, seed: seed &+ 3)
        let allCV = try CrossValidation.outOfSampleProbabilities(features: data.features, featureCount: f, labels: allNoisy,
                                                                 classCount: c, folds: folds, seed: seed &+ 4, config: config,
                                                                 ensemble: ensemble)
        let allRowsDetection = DetectionScore(flagged: try LabelIssueReport(labels: allNoisy, predProbs: allCV.probabilities).issues,
                                              actual: allFlipped)
        progress?("all rows: flagged \(allRowsDetection.flagged), \(allRowsDetection.truePositives) of them flipped: precision \(fixed(allRowsDetection.precision)), recall \(fixed(allRowsDetection.recall))")
        let flagged = Set(report.issues)
        let kept = train.labels.indices.filter { !flagged.contains($0) }
        func accuracies(_ rows: [Int], _ labels: [Int], _ name: String) throws -> [Double] {
            try trainSeeds.map { s in
                let model = try MLPClassifier.train(features: gatherRows(train.features, featureCount: f, rows), featureCount: f,
                                                    labels: rows.map { labels[$0] }, classCount: c, config: config, seed: s)
                let a = model.accuracy(test.features, labels: test.labels)
                progress?("\(name) labels, seed \(s): test accuracy \(fixed(a, 4))")
                return a
            }
        }
        let all = Array(train.labels.indices)
        return Result(
            rows: data.rowCount, trainRows: train.rowCount, testRows: test.rowCount, classes: c,
            noise: noise, folds: folds, ensemble: ensemble, seed: seed, flipped: flipped, report: report, detection: detection,
            allRowsDetection: allRowsDetection,
            crossValidationAccuracy: foldAccuracy.reduce(0, +) / Double(max(foldAccuracy.count, 1)),
            noisyAccuracy: try accuracies(all, noisy, "noisy"),
            cleanedAccuracy: try accuracies(kept, noisy, "cleaned"),
            trueAccuracy: try accuracies(all, train.labels, "true"))
    }
}

// MARK: - (c) Digits pruning

/// Demo (c): keep 50 / 70 / 90 % of the training rows by EL2N (hardest
/// first), by loss and at random; test accuracy averaged over seeds.
public enum PruningDemo {
    /// What the demo measured: one outcome per (score, fraction), plus the full data.
    public struct Result: Sendable {
        /// Rows of the training and test split.
        public var trainRows: Int, testRows: Int
        /// Scoring runs and the MLP.
        public var config: PruningConfig
        /// One outcome per (score, kept fraction).
        public var outcomes: [PruningOutcome]
        /// Training on every row, per seed.
        public var full: PruningOutcome

        /// A Markdown table: rows = kept fraction, columns = scores.
        public var markdown: String {
            let scores = PruningScore.allCases.filter { s in outcomes.contains { $0.score == s } }
            let fractions = Array(Set(outcomes.map(\.keep))).sorted()
            let paired = scores.contains(.el2n) && scores.contains(.random)
            func cell(_ o: PruningOutcome) -> String { "\(fixed(o.mean)) ± \(fixed(o.standardDeviation))" }
            func outcome(_ s: PruningScore, _ f: Double) -> PruningOutcome? { outcomes.first { $0.score == s && $0.keep == f } }
            // EL2N − random per seed (same split and seed), as mean ± sd.
            func difference(_ f: Double) -> String {
                guard let e = outcome(.el2n, f), let r = outcome(.random, f) else { return "" }
                let d = PruningOutcome(score: .el2n, keep: f, keptRows: e.keptRows, accuracies: zip(e.accuracies, r.accuracies).map { $0 - $1 })
                return "\(d.mean >= 0 ? "+" : "")\(fixed(d.mean)) ± \(fixed(d.standardDeviation))"
            }
            let names = scores.map { $0 == .el2n ? "EL2N (hardest kept)" : $0 == .loss ? "loss (hardest kept)" : "random" }
                + (paired ? ["EL2N − random, paired by seed"] : [])
            var lines = ["| kept (rows) | " + names.joined(separator: " | ") + " |",
                         "| --- |" + String(repeating: " --- |", count: names.count)]
            for f in fractions {
                let row = scores.map { outcome($0, f).map(cell) ?? "" } + (paired ? [difference(f)] : [])
                let rows = outcomes.first { $0.keep == f }?.keptRows ?? 0
                lines.append("| \(Int((f * 100).rounded())) % (\(rows)) | " + row.joined(separator: " | ") + " |")
            }
            lines.append("| 100 % (\(full.keptRows)) | " + scores.map { _ in cell(full) }.joined(separator: " | ") + (paired ? " | 0 |" : " |"))
            return lines.joined(separator: "\n") + "\n\nTest accuracy on \(testRows) held-out rows, mean ± standard deviation over \(full.accuracies.count) seeds (each seed: its own train/test split, scoring runs, random subset and initialisation); scores averaged over \(config.scoreRuns) runs of \(config.scoreEpochs) epochs; final MLPs trained \(config.model.epochs) epochs on the kept rows."
        }
    }

    /// Runs the demo: for each seed s, a fresh `testFraction` split (seed
    /// `seed + s`) and `DataPruning.experiment` with seed s for each score and
    /// for the full training set; accuracies are collected over the seeds, so
    /// the spread covers split, scoring runs, random subsets and initialisation.
    public static func run(_ data: CSVDataset, keep: [Double] = [0.5, 0.7, 0.9], scores: [PruningScore] = [.el2n, .loss, .random],
                           seeds: [UInt64] = Array(1...10), testFraction: Double = 0.2, seed: UInt64 = 2024,
                           config: PruningConfig = .init(), progress: ((String) -> Void)? = nil) throws -> Result {
        let f = data.featureCount, c = data.classCount
        var outcomes: [PruningOutcome] = []
        var full = PruningOutcome(score: .random, keep: 1, keptRows: 0, accuracies: [])
        var rows = (train: 0, test: 0)
        func merge(_ new: [PruningOutcome], into list: inout [PruningOutcome]) {
            for o in new {
                if let i = list.firstIndex(where: { $0.score == o.score && $0.keep == o.keep }) {
                    list[i].accuracies += o.accuracies
                } else {
                    list.append(o)
                }
            }
        }
        for s in seeds {
            let split = DataSplit.trainValidation(count: data.rowCount, validationFraction: testFraction, seed: seed &+ s)
            let train = data.subset(split.train), test = data.subset(split.validation)
            rows = (train.rowCount, test.rowCount)
            func run(_ score: PruningScore, _ fractions: [Double]) throws -> [PruningOutcome] {
                try DataPruning.experiment(train: (train.features, train.labels), test: (test.features, test.labels),
                                           featureCount: f, classCount: c, score: score, keep: fractions, seeds: [s],
                                           config: config, progress: progress)
            }
            for score in scores { merge(try run(score, keep), into: &outcomes) }
            let baseline = try run(.random, [1.0])[0]
            full.keptRows = baseline.keptRows
            full.accuracies += baseline.accuracies
        }
        return Result(trainRows: rows.train, testRows: rows.test, config: config, outcomes: outcomes, full: full)
    }
}

// MARK: - (b) Review near-duplicates

/// Demo (b): near-duplicate review snippets in the Rotten Tomatoes corpus,
/// found with sentence embeddings at several cosine thresholds.
public enum ReviewDuplicatesDemo {
    /// What the demo found.
    public struct Result: Sendable {
        /// The reviews searched (row i = reviews[i]).
        public var reviews: [MovieReview]
        /// One report per cosine threshold, ascending threshold.
        public var reports: [(minCosine: Double, report: DuplicateReport)]

        /// Groups whose members carry different labels (fresh and rotten).
        public func conflicting(_ report: DuplicateReport) -> [DuplicateGroup] {
            report.groups.filter { g in Set(g.members.map { reviews[$0].label }).count > 1 }
        }

        /// Groups spanning more than one movie.
        public func crossMovie(_ report: DuplicateReport) -> [DuplicateGroup] {
            report.groups.filter { g in Set(g.members.map { reviews[$0].movie }).count > 1 }
        }

        /// A summary table (one row per threshold) and a table of examples:
        /// the `exactExamples` largest exact groups, then the not-exact groups
        /// of the lowest threshold, closest first, up to `nearExamples`.
        public func markdown(exactExamples: Int = 3, nearExamples: Int = 8) -> String {
            guard let loosest = reports.first?.report else { return "" }
            let exactRows = loosest.exactGroups.reduce(0) { $0 + $1.count }
            var text = """
            | rule | duplicate groups | rows in them | groups not exact | groups mixing fresh + rotten | groups across movies |
            | --- | --- | --- | --- | --- | --- |
            | exact (normalised text) | \(loosest.exactGroups.count) | \(exactRows) | 0 | \(loosest.exactGroups.filter { g in Set(g.map { reviews[$0].label }).count > 1 }.count) | \(loosest.exactGroups.filter { g in Set(g.map { reviews[$0].movie }).count > 1 }.count) |

            """
            for (c, r) in reports.reversed() {
                text += "| exact + cosine ≥ \(c) | \(r.groups.count) | \(r.duplicatedRows) | \(r.groups.filter { !$0.exact }.count) | \(conflicting(r).count) | \(crossMovie(r).count) |\n"
            }
            text += "\n| # | kind | lowest cosine of a linked pair | reviews (movie, label) |\n| --- | --- | --- | --- |\n"
            let exact = loosest.groups.filter(\.exact).prefix(exactExamples)
            let near = loosest.groups.filter { !$0.exact }.sorted { $0.maxDistance < $1.maxDistance }.prefix(nearExamples)
            for (n, g) in (Array(exact) + Array(near)).enumerated() {
                let members = g.members.prefix(4).map { i -> String in
                    let r = reviews[i]
                    let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
                    let shown = t.count > 110 ? String(t.prefix(110)) + "…" : t
                    let escaped = shown.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
                    return "\"\(escaped)\" (\(r.movie), \(r.label == 1 ? "fresh" : "rotten"))"
                }.joined(separator: "<br>") + (g.members.count > 4 ? "<br>… \(g.members.count - 4) more" : "")
                text += "| \(n + 1) | \(g.exact ? "exact" : "near") | \(g.exact ? "—" : fixed(1 - g.maxDistance)) | \(members) |\n"
            }
            return text + "\n\(reviews.count) review snippets; near duplicates: cosine similarity of all-MiniLM-L6-v2 embeddings among each review's \(loosest.neighbours) nearest neighbours, groups = connected components; exact: equal after normalisation (NFKC, lower case, punctuation removed)."
        }
    }

    /// Embeds every review once and finds duplicate groups at each threshold in `minCosines`.
    public static func run(_ reviews: [MovieReview], embedder: some TextEmbedder, k: Int = NearDuplicates.defaultNeighbours,
                           minCosines: [Double] = [0.9, 0.95], progress: ((String) -> Void)? = nil) throws -> Result {
        let texts = reviews.map(\.text)
        let e = try NearDuplicates.embeddings(texts, embedder: embedder)
        progress?("embedded \(texts.count) reviews")
        let reports = try minCosines.sorted().map { c in
            (minCosine: c, report: try NearDuplicates.texts(texts, embeddings: e, k: k, minCosine: c))
        }
        return Result(reviews: reviews, reports: reports)
    }
}
