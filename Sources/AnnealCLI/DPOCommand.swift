// `anneal dpo`: direct preference optimisation and its variants (every
// pairwise loss of TRL, SimPO, ORPO, KTO) on a character GPT, with the
// reference as cached log-probs or a frozen copy; TRL's metrics as JSONL.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import AnnealOptim
import AnnealWorkloads
import ArgumentParser
import Foundation

struct DPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "Direct preference optimisation and its variants.",
        discussion: """
        Loss types (--loss, comma-separated for a weighted sum with --loss-weights): \
        \(PairwiseLossType.allCases.map(\.rawValue).joined(separator: ", ")), orpo (orpo_or + chosen NLL), \
        kto (unpaired data: {"prompt","completion","label"}). Data: TRL JSONL, {"prompt","chosen","rejected"} \
        or {"chosen","rejected"}. Over-long examples: the prompt keeps its end (--max-prompt-length, default half \
        the context), completions are cut to fit, and an example with no completion token left is dropped and counted.
        """)

    @Option(help: "Preference JSONL file.") var data: String?
    @Option(help: "Loss type(s), comma-separated.") var loss = "sigmoid"
    @Option(help: "Weights of the loss types, comma-separated (default 1 each).") var lossWeights: String?
    @Option(help: "β (KL strength).") var beta: Float = 0.1
    @Option(help: "Label smoothing ε (cdpo, robust, exo_pair, aot, simpo).") var labelSmoothing: Float = 0
    @Option(help: "discopop τ.") var tau: Float = 0.05
    @Option(help: "SimPO γ (target margin).") var gamma: Float = 0.5
    @Option(help: "Weight of the chosen completions' per-token NLL (SimPO option; orpo sets 1).") var nllWeight: Float?
    @Option(help: "KTO weights of desirable / undesirable examples.") var desirableWeight: Float = 1
    @Option var undesirableWeight: Float = 1
    @Option(help: "Reference: cached (log-probs computed once, saved to --ref-cache) or frozen (a frozen model copy).")
    var reference = "cached"
    @Option(help: "Reference log-prob cache (default: <out>/reference_logps.safetensors).") var refCache: String?
    @OptionGroup var model: AlignModelOptions
    @Option(help: "Optimizer steps.") var steps = 50
    @Option(help: "Pairs (or KTO examples) per step.") var batchSize = 8
    @Option(help: "AdamW learning rate.") var lr: Float = 1e-4
    @Option(help: "Output directory: metrics.jsonl, policy.safetensors, vocab.json.") var out = "runs/dpo"
    @Option(help: "Print the metrics every N steps.") var logEvery = 10
    @Flag(help: "Time a W3-shaped DPO step with cached reference log-probs against the same policy step with a plain summed-log-prob loss, then exit.")
    var benchOverhead = false
    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        if benchOverhead { return runOverheadBenchmark() }
        guard let data else { throw ValidationError("--data FILE is required") }
        let types = loss.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let isKTO = types == ["kto"]
        let objective = try makeObjective(types)
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)

        let url = URL(fileURLWithPath: data)
        let texts: [String], loaded: (pairs: [PreferencePair], unpaired: [UnpairedPreference])
        do {
            if isKTO {
                let u = try PreferenceData.loadUnpaired(url)
                loaded = ([], u); texts = u.flatMap { [$0.prompt, $0.completion] }
            } else {
                let p = try PreferenceData.loadPairs(url)
                loaded = (p, []); texts = p.flatMap { [$0.prompt, $0.chosen, $0.rejected] }
            }
        } catch let e as DataError { printError("error: \(e)"); throw ExitCode(1) }
        let (policy, tokenizer) = try model.policy(texts: texts)
        let truncation = try model.truncation(contextLength: policy.config.contextLength)
        let file = url.lastPathComponent
        let examples: PreferenceExamples, dropped: [Int]
        do {
            if isKTO {
                let r = try PreferencePreparation.unpaired(loaded.unpaired, file: file, truncation: truncation, encode: tokenizer.encode)
                examples = .unpaired(r.examples, truncation: truncation); dropped = r.droppedLines
            } else {
                let r = try PreferencePreparation.pairs(loaded.pairs, file: file, truncation: truncation, encode: tokenizer.encode)
                examples = .paired(r.pairs); dropped = r.droppedLines
            }
        } catch let e as DataError { printError("error: \(e)"); throw ExitCode(1) }
        AlignCLI.reportDropped(dropped, file: file, kept: examples.count, truncation: truncation)
        guard examples.count >= (isKTO ? 2 : 1) else {
            printError("error: \(file): \(examples.count) usable examples (KTO needs at least 2 for its KL estimate)")
            throw ExitCode(1)
        }

        let referenceSource = try makeReference(objective, policy: policy, examples: examples, outDir: outDir)
        let optimizer = AdamW(parameters: policy.trainableParameters(), learningRate: lr)
        let trainer = DPOTrainer(policy: policy, examples: examples, objective: objective, reference: referenceSource, optimizer: optimizer)
        let metricsURL = outDir.appendingPathComponent("metrics.jsonl")
        _ = FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: metricsURL)
        defer { try? log.close() }
        var order = AlignCLI.BatchOrder(count: examples.count, batchSize: batchSize, seed: model.seed)
        print("dpo: \(examples.count) examples, loss \(loss), β \(beta), reference \(referenceSourceName(referenceSource)), "
              + "GPT \(policy.parameterCount) parameters, \(steps) steps of \(Swift.min(batchSize, examples.count))")
        for _ in 0..<steps {
            let metrics: DPOMetrics
            do { metrics = try trainer.step(order.next()) } catch let e as TrainingDiverged {
                printError("error: \(e)")
                throw ExitCode(1)
            }
            log.write(Data((metrics.jsonLine + "\n").utf8))
            if metrics.step % logEvery == 0 || metrics.step == 1 || metrics.step == steps { print(metrics.jsonLine) }
        }
        try PolicyFiles.save(policy, tokenizer: tokenizer, to: outDir)
        print("wrote \(metricsURL.path) and \(outDir.appendingPathComponent(PolicyFiles.weightsFile).path)")
    }

    func makeObjective(_ types: [String]) throws -> AlignmentObjective {
        if types == ["kto"] {
            return .kto(KTOLoss(beta: beta, desirableWeight: desirableWeight, undesirableWeight: undesirableWeight))
        }
        var parsed: [PairwiseLossType] = [], nll = nllWeight ?? 0
        for t in types {
            if t == "orpo" { parsed.append(.orpoOR); nll = nllWeight ?? 1; continue }
            guard let p = PairwiseLossType(rawValue: t) else {
                throw ValidationError("unknown loss type '\(t)' (known: \(PairwiseLossType.allCases.map(\.rawValue).joined(separator: ", ")), orpo, kto)")
            }
            parsed.append(p)
        }
        var weights: [Float]? = nil
        if let lossWeights {
            weights = lossWeights.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard weights!.count == parsed.count else {
                throw ValidationError("--loss-weights has \(weights!.count) numbers for \(parsed.count) loss types")
            }
        }
        guard beta > 0 else { throw ValidationError("--beta must be positive, got \(beta)") }
        guard (0..<0.5).contains(labelSmoothing) else { throw ValidationError("--label-smoothing must be in [0, 0.5), got \(labelSmoothing)") }
        return .pairwise(PreferenceLoss(parsed, weights: weights, beta: beta, labelSmoothing: labelSmoothing,
                                        discopopTau: tau, simpoGamma: gamma, chosenNLLWeight: nll))
    }

    func makeReference(_ objective: AlignmentObjective, policy: GPT, examples: PreferenceExamples, outDir: URL) throws -> ReferenceSource {
        if case .pairwise(let l) = objective, l.isReferenceFree { return .none }
        switch reference {
        case "frozen": return .frozenCopy(policy.frozenCopy())
        case "cached":
            let url = refCache.map { URL(fileURLWithPath: $0) } ?? outDir.appendingPathComponent("reference_logps.safetensors")
            let fingerprint = policy.weightsFingerprint
            if FileManager.default.fileExists(atPath: url.path) {
                do {
                    let cache = try ReferenceLogProbs.load(from: url)
                    try cache.validate(for: examples, modelFingerprint: fingerprint, file: url.lastPathComponent)
                    print("reference log-probs: loaded \(url.path)")
                    return .cached(cache)
                } catch {
                    print("reference log-probs: \(error); recomputing")
                }
            }
            let t0 = Date()
            let cache = ReferenceLogProbs.compute(model: policy, examples: examples, batchSize: batchSize)
            if let bad = (cache.first + cache.second).firstIndex(where: { !$0.isFinite }) {
                printError("error: reference log-prob of example \(bad % examples.count) is not finite")
                throw ExitCode(1)
            }
            try cache.save(to: url)
            print(String(format: "reference log-probs: computed for %d examples in %.1f s, saved to %@", examples.count,
                         Date().timeIntervalSince(t0), url.path))
            return .cached(cache)
        default: throw ValidationError("--reference must be cached or frozen, got '\(reference)'")
        }
    }

    func referenceSourceName(_ r: ReferenceSource) -> String {
        switch r {
        case .cached: "cached log-probs"
        case .frozenCopy: "frozen copy"
        case .none: "none (reference-free)"
        }
    }

    /// W3-shaped DPO step (cached reference) vs the same policy step with a
    /// plain summed-log-prob loss, interleaved in alternating order (3 warm-up and 40 timed
    /// steps each): medians, and minima (less sensitive to other load on the machine).
    func runOverheadBenchmark() {
        let pair = Workload.dpoOverheadPair()
        let steps: [() -> Float] = [pair.dpo.step, pair.plain.step]
        for _ in 0..<3 { for s in steps { _ = s() } }
        var samples: [[Double]] = [[], []]
        for rep in 0..<40 {
            for i in rep % 2 == 0 ? [0, 1] : [1, 0] {   // alternate the order so neither always runs first
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = steps[i]()
                samples[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6)
            }
        }
        let med = samples.map(median), low = samples.map { $0.min()! }
        let b = Runtime.backend
        print(String(format: "W3-overhead anneal backend=%@ threads=%d dpo_cached_ms=%.3f plain_logp_ms=%.3f ratio=%.3f "
                     + "(min: %.3f / %.3f = %.3f; target <= 1.05)",
                     b.name, b.threads, med[0], med[1], med[0] / med[1], low[0], low[1], low[0] / low[1]))
    }
}

/// Model and truncation options shared by `anneal dpo` and `anneal reward`.
struct AlignModelOptions: ParsableArguments {
    @Option(help: "Start from a GPT in this directory (an `anneal train --model gpt` run, or an `anneal dpo` output).")
    var policy: String?
    @Option(help: "New GPT (without --policy): context length, width, layers, heads.") var context = 64
    @Option var dimensions = 64
    @Option var layers = 2
    @Option var heads = 4
    @Option(help: "Longest prompt in tokens (default: half the context).") var maxPromptLength: Int?
    @Option(help: "Which end of an over-long prompt to keep: keep_end or keep_start.") var truncation = "keep_end"
    @Option(help: "Random seed (new weights, batch order).") var seed: UInt64 = 0

    /// The GPT and tokenizer: loaded from --policy, or new (vocabulary = the characters of `texts`).
    func policy(texts: [String]) throws -> (GPT, CharTokenizer) {
        if let policy {
            do { return try PolicyFiles.load(URL(fileURLWithPath: policy)) } catch let e as DataError {
                printError("error: \(e)")
                throw ExitCode(1)
            }
        }
        guard context > 1, dimensions > 0, layers > 0, heads > 0, dimensions % heads == 0 else {
            throw ValidationError("--context must be > 1 and --dimensions a positive multiple of --heads")
        }
        let tokenizer = CharTokenizer(text: texts.joined())
        GlobalRandom.seed(seed)
        let gpt = GPT(GPTConfig(vocabularySize: Swift.max(tokenizer.vocabularySize, 1), contextLength: context,
                                dimensions: dimensions, layerCount: layers, headCount: heads))
        return (gpt, tokenizer)
    }

    func truncation(contextLength: Int) throws -> Truncation {
        guard let mode = Truncation.PromptMode(rawValue: truncation) else {
            throw ValidationError("--truncation must be keep_end or keep_start, got '\(truncation)'")
        }
        if let m = maxPromptLength, m < 0 || m >= contextLength {
            throw ValidationError("--max-prompt-length must be in 0..<\(contextLength) (the context length)")
        }
        return Truncation(maxLength: contextLength, maxPromptLength: maxPromptLength, promptMode: mode)
    }
}

/// Helpers shared by the alignment commands.
enum AlignCLI {
    /// Prints how many examples truncation dropped, with their first lines.
    static func reportDropped(_ lines: [Int], file: String, kept: Int, truncation: Truncation) {
        guard !lines.isEmpty else { return }
        let shown = lines.prefix(10).map { "\(file):\($0)" }.joined(separator: ", ")
        print("dropped \(lines.count) example(s) with no completion token left after truncation "
              + "(max length \(truncation.maxLength), prompt \(truncation.promptMode.rawValue) \(truncation.maxPromptLength)): "
              + shown + (lines.count > 10 ? ", …" : "") + "; \(kept) kept")
    }

    /// Seeded shuffled batches over epochs.
    struct BatchOrder {
        let count: Int, batchSize: Int
        var rng: RandomGenerator
        var order: [Int] = [], position = 0

        init(count: Int, batchSize: Int, seed: UInt64) {
            self.count = count; self.batchSize = Swift.max(1, Swift.min(batchSize, count)); rng = RandomGenerator(seed: seed &+ 1)
        }

        mutating func next() -> [Int] {
            if position + batchSize > order.count { order = rng.permutation(count); position = 0 }
            defer { position += batchSize }
            return Array(order[position..<(position + batchSize)])
        }
    }
}
