// Sequence batches: shifted, masked targets; log-prob sums of a tiny GPT
// against a direct per-sequence computation; padding invariance; truncation
// and dropping; the reward model's last-token features.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import Foundation
import Testing
import _TestSupport

func tinyGPT(seed: UInt64 = 0, vocabulary: Int = 7, context: Int = 12) -> GPT {
    GlobalRandom.seed(seed)
    return GPT(GPTConfig(vocabularySize: vocabulary, contextLength: context, dimensions: 16, layerCount: 1, headCount: 2))
}

@Suite struct SequenceTests {
    @Test func targetsAreShiftedAndMasked() {
        let batch = SequenceBatch([ScoredSequence(prompt: [1, 2], completion: [3, 4, 5]),
                                   ScoredSequence(prompt: [], completion: [6, 1]),
                                   ScoredSequence(prompt: [2], completion: [3])], padToken: 0)
        #expect(batch.rows == 3 && batch.length == 5)
        #expect(batch.ids == [1, 2, 3, 4, 5, /**/ 6, 1, 0, 0, 0, /**/ 2, 3, 0, 0, 0])
        #expect(batch.targets == [-1, 3, 4, 5, -1, /**/ 1, -1, -1, -1, -1, /**/ 3, -1, -1, -1, -1])
        #expect(batch.scoredCounts == [3, 1, 1] && batch.tokenCounts == [5, 2, 2])
        #expect(batch.tokens(row: 1) == [6, 1])
    }

    /// Σ log-softmax(logits[p − 1])[token p] over completion positions, in Double,
    /// one unpadded sequence at a time.
    func directLogProb(_ gpt: GPT, _ s: ScoredSequence) -> Double {
        let tokens = s.tokens
        let logits = Runtime.withNoGrad { gpt(tokens, batch: 1) }.scalars
        let v = gpt.config.vocabularySize
        var total = 0.0
        for p in Swift.max(s.prompt.count, 1)..<tokens.count {
            let row = logits[((p - 1) * v)..<(p * v)].map(Double.init)
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            total += row[tokens[p]] - lse
        }
        return total
    }

    @Test(arguments: BackendCase.all)
    func logProbsMatchADirectComputation(_ b: BackendCase) {
        b.run {
            let gpt = tinyGPT()
            let seqs = [ScoredSequence(prompt: [1, 2, 3], completion: [4, 5]),
                        ScoredSequence(prompt: [6], completion: [0, 1, 2, 3, 4, 5, 6, 1]),
                        ScoredSequence(prompt: [], completion: [2, 2, 3]),
                        ScoredSequence(prompt: [5, 4, 3, 2, 1, 0, 1, 2], completion: [3])]
            let got = Runtime.withNoGrad { gpt.sequenceLogProbs(SequenceBatch(seqs)) }.scalars
            for (s, g) in zip(seqs, got) {
                let want = directLogProb(gpt, s)
                #expect(abs(Double(g) - want) < 1e-4 * abs(want) + 1e-5, "\(s): \(g) vs \(want)")
            }
            // Padding (here with a token that would change a sum if it were scored) changes nothing.
            let padded = Runtime.withNoGrad { gpt.sequenceLogProbs(SequenceBatch(seqs, padToken: 6, length: 12)) }.scalars
            #expect(allClose(Tensor(padded), Tensor(got), rtol: 1e-5, atol: 1e-5))
        }
    }

    @Test func logProbGradientReachesOnlyScoredPositions() {
        let gpt = tinyGPT()
        let batch = SequenceBatch([ScoredSequence(prompt: [1, 2], completion: [3, 4])])
        let logits = Runtime.withNoGrad { gpt(batch.ids, batch: 1) }.requiringGrad()
        batch.logProbSums(logits).sum().backward()
        let g = logits.grad!.scalars, v = 7
        for p in 0..<4 {
            let norm = g[(p * v)..<((p + 1) * v)].map(abs).reduce(0, +)
            // Positions 1 and 2 predict the completion tokens 3 and 4; 0 predicts prompt token 2, 3 nothing.
            #expect((norm > 0) == (p == 1 || p == 2), "position \(p): gradient norm \(norm)")
        }
    }

    @Test func truncationKeepsThePromptEndAndCutsCompletions() {
        let t = Truncation(maxLength: 8, maxPromptLength: 3)
        #expect(t.apply(prompt: [1, 2, 3, 4, 5], completion: [6, 7]) == ScoredSequence(prompt: [3, 4, 5], completion: [6, 7]))
        #expect(t.apply(prompt: [1], completion: Array(10..<20)) == ScoredSequence(prompt: [1], completion: Array(10..<17)))
        let start = Truncation(maxLength: 8, maxPromptLength: 3, promptMode: .keepStart)
        #expect(start.prompt([1, 2, 3, 4, 5]) == [1, 2, 3])
        #expect(Truncation(maxLength: 10).maxPromptLength == 5)
    }

    @Test func preparationDropsAndCountsExamplesWithNothingLeftToScore() throws {
        let tok = CharTokenizer(text: "abcdxyz:")
        let pairs = [PreferencePair(prompt: "abcd", chosen: "x", rejected: "yz", line: 1),
                     PreferencePair(prompt: "", chosen: "x", rejected: "yz", line: 2),          // chosen: 1 token, no context
                     PreferencePair(prompt: "abcdabcd", chosen: "xyz", rejected: "zz", line: 3)]
        // maxPromptLength = maxLength: a long prompt leaves no room for the completion.
        let t = Truncation(maxLength: 6, maxPromptLength: 6)
        let r = try PreferencePreparation.pairs(pairs, file: "p.jsonl", truncation: t, encode: tok.encode)
        #expect(r.pairs.count == 1 && r.pairs[0].line == 1)
        #expect(r.droppedLines == [2, 3])
        // For a reward model a one-token completion without a prompt is usable.
        let forReward = try PreferencePreparation.pairs(pairs, file: "p.jsonl", truncation: t, purpose: .reward, encode: tok.encode)
        #expect(forReward.droppedLines == [3])
    }

    @Test func textOutsideTheVocabularyNamesFileLineAndField() {
        let tok = CharTokenizer(text: "abc")
        let pairs = [PreferencePair(prompt: "a", chosen: "b", rejected: "c", line: 4),
                     PreferencePair(prompt: "a", chosen: "b", rejected: "cQ", line: 7)]
        #expect {
            _ = try PreferencePreparation.pairs(pairs, file: "prefs.jsonl", truncation: Truncation(maxLength: 8), encode: tok.encode)
        } throws: { error in
            "\(error)".hasPrefix("prefs.jsonl:7: field \"rejected\": character U+51")
        }
    }

    @Test(arguments: BackendCase.all)
    func rewardUsesTheLastRealToken(_ b: BackendCase) {
        b.run {
            let model = RewardModel(backbone: tinyGPT(seed: 3))
            let short = ScoredSequence(prompt: [1, 2], completion: [3])
            let long = ScoredSequence(prompt: [1, 2], completion: [3, 4, 5, 6])
            let alone = Runtime.withNoGrad { model(SequenceBatch([short])) }.item()
            let together = Runtime.withNoGrad { model(SequenceBatch([long, short], padToken: 5)) }.scalars
            #expect(abs(together[1] - alone) < 1e-5)
            // Direct: head(hidden at position 2 of the unpadded sequence).
            let gpt = model.backbone as! GPT
            let h = Runtime.withNoGrad { gpt.hidden([1, 2, 3], batch: 1) }.slice(axis: 1, 2..<3).reshaped([1, 16])
            let direct = Runtime.withNoGrad { model.head(h) }.item()
            #expect(abs(direct - alone) < 1e-5)
            // The LM head is frozen (features never use it); everything else trains.
            let names = Set(model.trainableParameters().map(\.0))
            #expect(!names.contains("backbone.head.weight") && names.contains("head.weight") && names.contains("backbone.tok.weight"))
        }
    }
}
