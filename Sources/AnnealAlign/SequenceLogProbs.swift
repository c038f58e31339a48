// Sequence log-probabilities for causal language models: prompt + completion
// sequences padded into one batch, next-token targets on completion tokens
// only, and Σ log p over each row's completion.

import Anneal
import AnnealNN

/// One token sequence: a context (the prompt, never scored) followed by a
/// completion whose tokens are scored.
///
/// A token is scored when the model sees a token before it: every completion
/// token when the prompt is non-empty; all but the first when it is empty
/// (that first token is context only, as there is no BOS token).
public struct ScoredSequence: Sendable, Equatable {
    /// Prompt token ids.
    public var prompt: [Int]
    /// Completion token ids.
    public var completion: [Int]

    /// A sequence.
    public init(prompt: [Int], completion: [Int]) { self.prompt = prompt; self.completion = completion }

    /// prompt followed by completion.
    public var tokens: [Int] { prompt + completion }
    /// Number of completion tokens whose log-prob is scored.
    public var scoredCount: Int { prompt.isEmpty ? Swift.max(completion.count - 1, 0) : completion.count }
}

/// A padded batch of S sequences, ids [S, T] with T the longest row.
///
/// `targets[s·T + t]` is the token at position t + 1 when that token is a
/// scored completion token, and −1 (ignored) for prompt tokens, padding and
/// the last position: the labels are the ids shifted left by one, masked.
public struct SequenceBatch: Sendable {
    /// S.
    public let rows: Int
    /// T, the padded length.
    public let length: Int
    /// Token ids [S·T], row-major; padding is `padToken`.
    public let ids: [Int]
    /// Next-token targets [S·T]; −1 where not scored.
    public let targets: [Int]
    /// Scored tokens per row [S].
    public let scoredCounts: [Int]
    /// Non-padding tokens per row [S] (the last real token is at `tokenCounts[s] − 1`).
    public let tokenCounts: [Int]

    /// Pads `sequences` to the longest (or to `length`, if given and longer).
    public init(_ sequences: [ScoredSequence], padToken: Int = 0, length: Int? = nil) {
        require(!sequences.isEmpty, "a sequence batch needs at least one sequence")
        let counts = sequences.map { $0.prompt.count + $0.completion.count }
        let t = Swift.max(counts.max()!, length ?? 0)
        require(t > 0, "a sequence batch needs at least one token")
        var ids = [Int](repeating: padToken, count: sequences.count * t)
        var targets = [Int](repeating: -1, count: sequences.count * t)
        for (s, seq) in sequences.enumerated() {
            let tokens = seq.tokens, base = s * t
            for (i, tok) in tokens.enumerated() { ids[base + i] = tok }
            // The completion token at position p ≥ 1 is predicted from position p − 1.
            var p = Swift.max(seq.prompt.count, 1)
            while p < tokens.count {
                targets[base + p - 1] = tokens[p]
                p += 1
            }
        }
        rows = sequences.count; self.length = t
        self.ids = ids; self.targets = targets
        scoredCounts = sequences.map(\.scoredCount); tokenCounts = counts
    }

    /// The real (unpadded) tokens of row `r`.
    public func tokens(row r: Int) -> [Int] { Array(ids[(r * length)..<(r * length + tokenCounts[r])]) }

    /// Per-row Σ log p(target) over scored positions, [S], from logits [S, T, V]:
    /// −cross-entropy per position (ignored positions add 0), summed over T.
    public func logProbSums(_ logits: Tensor) -> Tensor {
        require(logits.rank == 3 && logits.shape[0] == rows && logits.shape[1] == length,
                "logits \(logits.shape) for a batch of \(rows) rows of length \(length)")
        let nll = Tensor.crossEntropy(logits.reshaped([rows * length, logits.shape[2]]), targets: targets,
                                      reduction: .none, ignoreIndex: -1)
        return -nll.reshaped([rows, length]).sum(axis: 1)
    }
}

extension GPT {
    /// Σ log p of each row's scored completion tokens, [S] (see `SequenceBatch`).
    public func sequenceLogProbs(_ batch: SequenceBatch) -> Tensor {
        batch.logProbSums(self(batch.ids, batch: batch.rows))
    }
}

/// How an over-long example is cut to fit the model's context.
///
/// First the prompt is cut to `maxPromptLength` tokens, keeping its end (the
/// text nearest the completion; `.keepStart` keeps its beginning instead).
/// Then each completion is cut to the room left, `maxLength − prompt`,
/// keeping its start. An example left with no scored completion token is
/// dropped by the preparation functions, which report how many they dropped.
public struct Truncation: Sendable, Equatable {
    /// Which end of an over-long prompt survives.
    public enum PromptMode: String, Sendable { case keepEnd = "keep_end", keepStart = "keep_start" }
    /// Longest prompt + completion (the model's context length).
    public var maxLength: Int
    /// Longest prompt (default: half of `maxLength`, as TRL's 512 / 1024).
    public var maxPromptLength: Int
    /// The prompt truncation mode (default keep its end).
    public var promptMode: PromptMode

    /// A truncation rule.
    public init(maxLength: Int, maxPromptLength: Int? = nil, promptMode: PromptMode = .keepEnd) {
        require(maxLength > 0, "maxLength must be positive, got \(maxLength)")
        self.maxLength = maxLength
        self.maxPromptLength = Swift.min(maxPromptLength ?? maxLength / 2, maxLength)
        self.promptMode = promptMode
    }

    /// The prompt cut to `maxPromptLength`.
    public func prompt(_ ids: [Int]) -> [Int] {
        guard ids.count > maxPromptLength else { return ids }
        return promptMode == .keepEnd ? Array(ids.suffix(maxPromptLength)) : Array(ids.prefix(maxPromptLength))
    }

    /// A completion after the (already cut) prompt, cut to the room left.
    public func completion(_ ids: [Int], after prompt: [Int]) -> [Int] {
        Array(ids.prefix(Swift.max(maxLength - prompt.count, 0)))
    }

    /// prompt and completion cut to fit.
    public func apply(prompt: [Int], completion: [Int]) -> ScoredSequence {
        let p = self.prompt(prompt)
        return ScoredSequence(prompt: p, completion: self.completion(completion, after: p))
    }
}
