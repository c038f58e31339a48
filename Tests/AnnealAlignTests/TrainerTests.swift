// Training: a short DPO run whose chosen-vs-rejected log-prob margin grows,
// cached and frozen-copy references agreeing, the reference cache on disk,
// KTO and reward-model steps, stopping on NaN, and the W3/W5 workloads.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation
import Testing
import _TestSupport

/// Six pairs over the alphabet "abxy:": chosen completions of a's, rejected of b's.
func syntheticPairs() throws -> (PreferenceExamples, CharTokenizer) {
    let tok = CharTokenizer(text: "abxy:")
    let raw = ["x:", "y:", "xy:", "yx:", "xx:", "yy:"].enumerated().map { i, p in
        PreferencePair(prompt: p, chosen: String(repeating: "a", count: 2 + i % 3), rejected: String(repeating: "b", count: 3 - i % 2), line: i + 1)
    }
    let r = try PreferencePreparation.pairs(raw, file: "synthetic", truncation: Truncation(maxLength: 12), encode: tok.encode)
    return (.paired(r.pairs), tok)
}

func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("anneal-align-\(UUID().uuidString)-\(name)")
}

@Suite struct TrainerTests {
    @Test(arguments: BackendCase.all)
    func dpoGrowsTheChosenLogProbMargin(_ b: BackendCase) throws {
        try b.run {
            let (examples, tok) = try syntheticPairs()
            let policy = tinyGPT(seed: 1, vocabulary: tok.vocabularySize)
            let before = ReferenceLogProbs.compute(model: policy, examples: examples)
            let trainer = DPOTrainer(policy: policy, examples: examples, objective: .pairwise(PreferenceLoss([.sigmoid], beta: 0.5)),
                                     reference: .cached(before), optimizer: AdamW(parameters: policy.trainableParameters(), learningRate: 1e-2))
            var history: [DPOMetrics] = []
            for _ in 0..<25 { history.append(try trainer.step(Array(0..<examples.count))) }
            #expect(abs(history[0].rewardsMargin) < 1e-4 && abs(history[0].loss - Float(log(2.0))) < 1e-4)   // policy = reference
            #expect(history.last!.rewardsMargin > 1 && history.last!.rewardsAccuracy == 1 && history.last!.loss < 0.3)
            let after = ReferenceLogProbs.compute(model: policy, examples: examples)
            let marginBefore = zip(before.first, before.second).map { $0 - $1 }.reduce(0, +)
            let marginAfter = zip(after.first, after.second).map { $0 - $1 }.reduce(0, +)
            #expect(marginAfter > marginBefore + 10, "Σ (chosen − rejected) log-prob: \(marginBefore) → \(marginAfter)")
            #expect(history.map(\.step) == Array(1...25))
            let names = history[0].entries.map(\.0)
            #expect(names == ["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"])
            #expect(history[0].jsonLine.hasPrefix("{\"step\": 1, \"loss\": 0.693"))
        }
    }

    @Test func cachedAndFrozenReferencesTrainIdentically() throws {
        let (examples, tok) = try syntheticPairs()
        func run(_ makeReference: (GPT) -> ReferenceSource) throws -> [Float] {
            let policy = tinyGPT(seed: 2, vocabulary: tok.vocabularySize)
            let trainer = DPOTrainer(policy: policy, examples: examples, objective: .pairwise(PreferenceLoss([.ipo, .hinge], beta: 0.2)),
                                     reference: makeReference(policy), optimizer: AdamW(parameters: policy.trainableParameters(), learningRate: 1e-2))
            return try (0..<4).map { try trainer.step([$0, $0 + 1]).loss }
        }
        let cached = try run { .cached(ReferenceLogProbs.compute(model: $0, examples: examples)) }
        let frozen = try run { .frozenCopy($0.frozenCopy()) }
        #expect(allClose(Tensor(cached), Tensor(frozen), rtol: 1e-4, atol: 1e-6), "\(cached) vs \(frozen)")
    }

    @Test func frozenCopyGetsNoGradientAndKeepsItsWeights() throws {
        let policy = tinyGPT(seed: 4)
        let copy = policy.frozenCopy()
        #expect(copy.trainableParameters().isEmpty && !copy.isTraining)
        #expect(copy.weightsFingerprint == policy.weightsFingerprint)
        policy.tok.weight.withMutableValues { $0[0] += 1 }
        #expect(copy.weightsFingerprint != policy.weightsFingerprint)
        #expect(copy.tok.weight.value.scalars[0] + 1 == policy.tok.weight.value.scalars[0])
    }

    @Test func referenceCacheRoundTripsAndRefusesOtherData() throws {
        let (examples, tok) = try syntheticPairs()
        let model = tinyGPT(seed: 5, vocabulary: tok.vocabularySize)
        let cache = ReferenceLogProbs.compute(model: model, examples: examples, batchSize: 4)
        #expect(cache.first.count == 6 && cache.first.allSatisfy { $0 < 0 })
        let url = temporaryURL("ref.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try cache.save(to: url)
        let loaded = try ReferenceLogProbs.load(from: url)
        #expect(loaded == cache)
        try loaded.validate(for: examples, modelFingerprint: model.weightsFingerprint, file: "ref.safetensors")
        // Batch size does not change the values.
        #expect(allClose(Tensor(ReferenceLogProbs.compute(model: model, examples: examples, batchSize: 1).first), Tensor(cache.first), rtol: 1e-5))

        guard case .paired(var pairs) = examples else { return }
        pairs[2].chosen.append(0)
        #expect { try loaded.validate(for: .paired(pairs), file: "ref.safetensors") } throws: {
            "\($0)".hasPrefix("ref.safetensors: was computed on other data")
        }
        #expect { try loaded.validate(for: .paired(Array(pairs.prefix(3))), file: "ref.safetensors") } throws: {
            "\($0)" == "ref.safetensors: holds 6 examples, the data has 3"
        }
        #expect { try loaded.validate(for: examples, modelFingerprint: 42, file: "ref.safetensors") } throws: {
            "\($0)".contains("another reference model")
        }
        // A safetensors file of another kind is refused by name.
        let other = temporaryURL("other.safetensors")
        defer { try? FileManager.default.removeItem(at: other) }
        try SafeTensors.writeTensors(["first": Tensor([1])], to: other)
        #expect { try ReferenceLogProbs.load(from: other) } throws: { "\($0)".contains("other.safetensors: metadata format is missing") }
    }

    @Test func ktoStepUsesMismatchedCompletionsForKL() throws {
        let tok = CharTokenizer(text: "abxy:")
        let raw = (0..<4).map { UnpairedPreference(prompt: ["x:", "y:"][$0 % 2], completion: ["aaa", "bb"][$0 / 2], label: $0 < 2, line: $0 + 1) }
        let t = Truncation(maxLength: 12)
        let prepared = try PreferencePreparation.unpaired(raw, file: "kto.jsonl", truncation: t, encode: tok.encode)
        let examples = PreferenceExamples.unpaired(prepared.examples, truncation: t)
        // Example 3's KL sequence: its prompt, example 0's completion.
        let (_, kl) = examples.sequences(3)
        let (y, aaa) = (try tok.encode("y:"), try tok.encode("aaa"))
        #expect(kl.prompt == y && kl.completion == aaa)
        let policy = tinyGPT(seed: 6, vocabulary: tok.vocabularySize)
        let trainer = DPOTrainer(policy: policy, examples: examples, objective: .kto(KTOLoss(beta: 0.1)),
                                 reference: .cached(ReferenceLogProbs.compute(model: policy, examples: examples)),
                                 optimizer: AdamW(parameters: policy.trainableParameters(), learningRate: 1e-2))
        let first = try trainer.step([0, 1, 2, 3])
        #expect(first.kl == 0 && abs(first.loss - 0.5) < 1e-5)   // policy = reference: 1 − σ(0) each
        var last = first
        for _ in 0..<15 { last = try trainer.step([0, 1, 2, 3]) }
        #expect(last.loss < first.loss && last.rewardsChosen > last.rewardsRejected)
        #expect(last.entries.map(\.0).contains("kl") && last.rewardsAccuracy == nil)
    }

    @Test func aNaNLossStopsTrainingNamingTheStep() throws {
        let (examples, tok) = try syntheticPairs()
        let policy = tinyGPT(seed: 7, vocabulary: tok.vocabularySize)
        let trainer = DPOTrainer(policy: policy, examples: examples, objective: .pairwise(PreferenceLoss([.sigmoid])),
                                 reference: .cached(ReferenceLogProbs.compute(model: policy, examples: examples)),
                                 optimizer: AdamW(parameters: policy.trainableParameters(), learningRate: 1e-3))
        try trainer.step([0, 1])
        try trainer.step([2, 3])
        policy.lnf.weight.withMutableValues { $0[0] = .nan }
        let before = policy.stateDict()
        #expect { try trainer.step([4, 5]) } throws: { error in
            guard let e = error as? TrainingDiverged else { return false }
            return e.step == 3 && e.quantity == "loss" && "\(e)".hasPrefix("step 3: loss is nan")
        }
        #expect(trainer.stepCount == 2)
        // The update was not applied.
        for (name, t) in policy.stateDict() where name != "lnf.weight" { #expect(t.scalars == before[name]!.scalars, "\(name) changed") }
    }

    @Test func rewardModelLearnsASeparablePreference() throws {
        let (examples, tok) = try syntheticPairs()
        guard case .paired(let pairs) = examples else { return }
        let model = RewardModel(backbone: tinyGPT(seed: 8, vocabulary: tok.vocabularySize))
        let trainer = RewardTrainer(model: model, loss: BradleyTerryLoss(centerRewardsCoefficient: 0.01),
                                    optimizer: AdamW(parameters: model.trainableParameters(), learningRate: 1e-2))
        let start = trainer.evaluate(pairs)
        var last = start
        for _ in 0..<30 { last = try trainer.step(pairs) }
        let end = trainer.evaluate(pairs)
        #expect(end.accuracy == 1 && end.margin > start.margin + 1 && end.loss < start.loss, "\(start) → \(end)")
        #expect(end.minReward <= end.meanReward && end.meanReward <= end.maxReward)
        #expect(last.step == 30 && last.entries.map(\.0) == ["loss", "accuracy", "margin", "min_reward", "mean_reward", "max_reward"])
    }

    @Test func memoizedFrozenFeaturesAreComputedOncePerText() {
        let gpt = tinyGPT(seed: 9)
        let memo = MemoizedFeatures(gpt)
        let model = RewardModel(backbone: memo)
        #expect(model.trainableParameters().map(\.0).sorted() == ["head.bias", "head.weight"])
        let a = ScoredSequence(prompt: [1], completion: [2, 3]), b = ScoredSequence(prompt: [4], completion: [5])
        let r1 = model(SequenceBatch([a, b]))
        #expect(memo.memoizedCount == 2)
        let r2 = model(SequenceBatch([b, a, a], padToken: 6))
        #expect(memo.memoizedCount == 2)
        #expect(abs(r1.scalars[0] - r2.scalars[1]) < 1e-6 && abs(r1.scalars[1] - r2.scalars[0]) < 1e-6)
        let direct = Runtime.withNoGrad { RewardModel.directReward(gpt: gpt, head: model.head, tokens: [1, 2, 3]) }
        #expect(abs(direct - r1.scalars[0]) < 1e-5)
    }

    @Test func policyFilesRoundTrip() throws {
        let tok = CharTokenizer(text: "abc xyz")
        let gpt = tinyGPT(seed: 10, vocabulary: tok.vocabularySize)
        let dir = temporaryURL("policy")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PolicyFiles.save(gpt, tokenizer: tok, to: dir)
        let (loaded, loadedTok) = try PolicyFiles.load(dir)
        #expect(loaded.config == gpt.config && loadedTok == tok && loaded.weightsFingerprint == gpt.weightsFingerprint)
        #expect { try PolicyFiles.load(dir.appendingPathComponent("missing")) } throws: { "\($0)".contains("no policy.safetensors or checkpoint.safetensors") }
    }
}

extension RewardModel {
    /// head(hidden state of the last token) for one unpadded sequence.
    static func directReward(gpt: GPT, head: Linear, tokens: [Int]) -> Float {
        let h = gpt.hidden(tokens, batch: 1).slice(axis: 1, (tokens.count - 1)..<tokens.count).reshaped([1, gpt.config.dimensions])
        return head(h).item()
    }
}
