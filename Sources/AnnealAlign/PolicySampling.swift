// Sampling completions from a GPT policy with cached keys and values (each
// new token costs one position's forward pass, not the whole prefix's), and a
// Monte-Carlo estimate of the sequence KL between a policy and its reference.

import Anneal
import AnnealNN
import Foundation

/// Incremental decoding of a GPT for B rows decoded together: every layer's
/// keys and values [B, H, t, Dh] are kept, so the next token's logits need
/// only the new position's forward pass. No autograd graph is recorded.
///
/// The math is the GPT's own (pre-LN blocks, erf GELU, learned positions); a
/// new position attends to every cached position and itself, which is the
/// causal mask of the full forward pass, so the logits equal `model(ids)`'s
/// at the same positions up to rounding.
public struct GPTDecoder {
    /// The model.
    public let model: GPT
    /// t, the positions processed so far.
    public private(set) var length = 0
    var keys: [Tensor] = [], values: [Tensor] = []   // per layer [B, H, t, Dh]

    /// A decoder with nothing processed yet.
    public init(model: GPT) { self.model = model }

    /// Feeds the next tokens of every row and returns the logits [B, V] of the
    /// token after them. The first call takes B rows of one length n ≥ 1 (the
    /// prompts); later calls take one token per row (n = 1), for the same B rows.
    public mutating func feed(_ tokens: [[Int]]) -> Tensor {
        let n = tokens.first?.count ?? 0
        require(n >= 1 && tokens.allSatisfy { $0.count == n }, "GPTDecoder.feed needs rows of one length ≥ 1")
        require(length == 0 || (n == 1 && tokens.count == keys[0].shape[0]),
                "GPTDecoder.feed: after the prompts, one token for each of the \(keys.first?.shape[0] ?? 0) rows")
        let config = model.config
        let (b, c, h) = (tokens.count, config.dimensions, config.headCount)
        let dh = c / h, scale = 1 / Float(dh).squareRoot()
        require(length + n <= config.contextLength, "decoding past the context length \(config.contextLength)")
        let start = length
        let logits: Tensor = Runtime.withNoGrad {
            var x = model.tok(tokens.flatMap { $0 }, shape: [b, n]) + model.pos(Array(start..<(start + n)), shape: [n])   // [B, n, C]
            for (layer, block) in model.blocks.enumerated() {
                let qkv = block.attention.qkv(block.ln1(x)).reshaped([b, n, 3, h, dh]).permuted([2, 0, 3, 1, 4])
                let parts = qkv.split([1, 1, 1], axis: 0).map { $0.reshaped([b, h, n, dh]) }   // q, k, v [B, H, n, Dh]
                let y: Tensor                                                                   // [B, H, n, Dh]
                if start == 0 {
                    keys.append(parts[1]); values.append(parts[2])
                    y = Tensor.causalAttention(q: parts[0], k: parts[1], v: parts[2], scale: scale)
                } else {
                    keys[layer] = Tensor.concat([keys[layer], parts[1]], axis: 2)              // [B, H, t+1, Dh]
                    values[layer] = Tensor.concat([values[layer], parts[2]], axis: 2)
                    // One query over all t + 1 keys: weights softmax(q·kᵀ/√Dh) [B, H, t+1, 1].
                    let scores = (parts[0] * keys[layer]).sum(axis: 3, keepDim: true) * scale
                    y = (scores.softmax(axis: 2) * values[layer]).sum(axis: 2, keepDim: true)
                }
                x = x + block.attention.proj(y.permuted([0, 2, 1, 3]).reshaped([b, n, c]))
                x = x + block.out(block.fc(block.ln2(x)).gelu())
            }
            let last = (n == 1 ? x : x.slice(axis: 1, (n - 1)..<n)).reshaped([b, c])          // [B, C]
            let w = config.tiedEmbeddings ? model.tok.weight.value : model.head.weight.value
            return Tensor.linear(model.lnf(last), weight: w)
        }
        length += n
        return logits
    }
}

extension GPT {
    /// Samples a completion after each prompt: tokens drawn one at a time from
    /// softmax(logits / temperature) until `stopToken` (kept as the
    /// completion's last token) or `maxNewTokens` tokens. Prompts (non-empty;
    /// prompt + maxNewTokens ≤ the context length) are decoded in batches of up
    /// to `batchSize` rows of equal length with a `GPTDecoder`. Draws come from
    /// `rng`, one per unfinished row per step, batch by batch, so results are
    /// reproducible. Returns the completions in prompt order.
    public func sampleCompletions(prompts: [[Int]], maxNewTokens: Int, temperature: Float = 1, stopToken: Int? = nil,
                                  batchSize: Int = 256, rng: inout RandomGenerator) -> [[Int]] {
        require(temperature > 0 && maxNewTokens >= 1 && batchSize >= 1, "sampling needs temperature > 0, maxNewTokens ≥ 1, batchSize ≥ 1")
        require(prompts.allSatisfy { !$0.isEmpty && $0.count + maxNewTokens <= config.contextLength },
                "every prompt must be non-empty and leave room for \(maxNewTokens) tokens in the context of \(config.contextLength)")
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var out = [[Int]](repeating: [], count: prompts.count)
        let groups = Dictionary(grouping: prompts.indices, by: { prompts[$0].count }).sorted { $0.key < $1.key }
        let v = config.vocabularySize
        for (_, members) in groups {
            for start in stride(from: 0, to: members.count, by: batchSize) {
                let rows = Array(members[start..<Swift.min(start + batchSize, members.count)])
                var decoder = GPTDecoder(model: self)
                var logits = decoder.feed(rows.map { prompts[$0] }).scalars        // [B·V]
                var done = [Bool](repeating: false, count: rows.count)
                for step in 0..<maxNewTokens {
                    var next = [Int](repeating: stopToken ?? 0, count: rows.count)
                    for (r, i) in rows.enumerated() where !done[r] {
                        let token = logits.withUnsafeBufferPointer {
                            Self.draw(UnsafeBufferPointer(rebasing: $0[(r * v)..<((r + 1) * v)]), temperature: temperature, rng: &rng)
                        }
                        out[i].append(token)
                        next[r] = token
                        if token == stopToken { done[r] = true }
                    }
                    if done.allSatisfy({ $0 }) || step == maxNewTokens - 1 { break }
                    logits = decoder.feed(next.map { [$0] }).scalars
                }
            }
        }
        return out
    }

    /// An index drawn from softmax(logits / temperature) (computed in Double).
    static func draw(_ logits: UnsafeBufferPointer<Float>, temperature: Float, rng: inout RandomGenerator) -> Int {
        let m = logits.max()!
        var total = 0.0
        for x in logits { total += Foundation.exp(Double((x - m) / temperature)) }
        var u = Double(rng.nextFloat()) * total
        for (i, x) in logits.enumerated() {
            u -= Foundation.exp(Double((x - m) / temperature))
            if u < 0 { return i }
        }
        return logits.count - 1
    }
}

/// Monte-Carlo estimates comparing a policy with its reference.
public enum PolicyDivergence {
    /// KL(π‖π_ref) per completion, KL = E_x E_{y∼π(·|x)} [log π(y|x) − log π_ref(y|x)],
    /// estimated by the mean of the log-ratio over `samples` drawn from π
    /// (log-probs summed over each completion's tokens, as `GPT.sequenceLogProbs`),
    /// with the standard error of that mean. Nats per completion.
    public static func kl(policy: GPT, reference: GPT, samples: [ScoredSequence], batchSize: Int = 64) -> (mean: Double, standardError: Double) {
        let ratios = logRatios(policy: policy, reference: reference, samples: samples, batchSize: batchSize)
        return meanAndStandardError(ratios)
    }

    /// log π(y|x) − log π_ref(y|x) of each sample, computed without gradients in evaluation mode.
    public static func logRatios(policy: GPT, reference: GPT, samples: [ScoredSequence], batchSize: Int = 64) -> [Double] {
        let modes = (policy.isTraining, reference.isTraining)
        policy.eval(); reference.eval()
        defer { policy.train(modes.0); reference.train(modes.1) }
        var out: [Double] = []
        Runtime.withNoGrad {
            for start in stride(from: 0, to: samples.count, by: Swift.max(batchSize, 1)) {
                let batch = SequenceBatch(Array(samples[start..<Swift.min(start + batchSize, samples.count)]))
                let a = policy.sequenceLogProbs(batch).scalars, b = reference.sequenceLogProbs(batch).scalars
                out += zip(a, b).map { Double($0) - Double($1) }
            }
        }
        return out
    }

    /// Mean and standard error (sd / √n, sd with n − 1) of `xs`.
    public static func meanAndStandardError(_ xs: [Double]) -> (mean: Double, standardError: Double) {
        guard !xs.isEmpty else { return (.nan, .nan) }
        let m = xs.reduce(0, +) / Double(xs.count)
        guard xs.count > 1 else { return (m, 0) }
        let variance = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
        return (m, (variance / Double(xs.count)).squareRoot())
    }
}
