// More reward-model backbones: a BERT/MiniLM sentence encoder (mean-pooled,
// L2-normalised embeddings) and a wrapper that freezes any backbone and
// memoises its features, so a frozen encoder runs once per distinct text.

import Anneal
import AnnealNN

extension BertModel: RewardBackbone {
    /// hidden_size.
    public var featureSize: Int { config.hiddenSize }
    /// The [CLS] pooler, which sentence embeddings do not use.
    public var parametersUnusedByFeatures: [String] { ["pooler.*"] }

    /// Sentence-transformers embeddings [S, C]: the last hidden states averaged
    /// over each row's `tokenCounts` real tokens, divided by their L2 norm.
    /// Rows must be WordPiece ids with their own [CLS] … [SEP].
    public func features(_ batch: SequenceBatch) -> Tensor {
        let hidden = self(batch.ids, batch: batch.rows, lengths: batch.tokenCounts)
        return Self.l2Normalized(Self.meanPooled(hidden, lengths: batch.tokenCounts))
    }
}

/// A frozen backbone whose features are computed once per distinct token
/// sequence (without gradients) and then reused: training a head on a frozen
/// encoder costs one encoder pass per text, not one per step.
public final class MemoizedFeatures: Module, RewardBackbone, @unchecked Sendable {
    /// The wrapped backbone (all its parameters frozen).
    public let base: any RewardBackbone
    var memo: [[Int]: [Float]] = [:]

    /// Freezes `base` and wraps it.
    public init(_ base: any RewardBackbone) {
        self.base = base
        base.freeze()
        super.init()
    }

    /// The base's parameters, under its own names.
    public override func children() -> [(String, Any)] { base.children() }
    /// The base's width.
    public var featureSize: Int { base.featureSize }
    /// Nothing beyond the (already frozen) base.
    public var parametersUnusedByFeatures: [String] { [] }
    /// Distinct sequences seen so far.
    public var memoizedCount: Int { memo.count }

    /// Features [S, C] (no gradient): memoised rows, the rest computed in one
    /// batch by the base in evaluation mode.
    public func features(_ batch: SequenceBatch) -> Tensor {
        let rows = (0..<batch.rows).map { batch.tokens(row: $0) }
        let missing = Array(Set(rows.filter { memo[$0] == nil }))
        if !missing.isEmpty {
            let wasTraining = base.isTraining
            base.eval()
            let f = Runtime.withNoGrad {
                base.features(SequenceBatch(missing.map { ScoredSequence(prompt: [], completion: $0) })).scalars
            }
            base.train(wasTraining)
            for (i, row) in missing.enumerated() { memo[row] = Array(f[(i * featureSize)..<((i + 1) * featureSize)]) }
        }
        return Tensor(shape: [batch.rows, featureSize], rows.flatMap { memo[$0]! })
    }
}

/// Appends one token (e.g. BERT's [SEP]) to every row before the wrapped
/// backbone sees it, so texts can be encoded and truncated without it and
/// still end with it.
public final class AppendingToken: Module, RewardBackbone, @unchecked Sendable {
    /// The wrapped backbone.
    public let base: any RewardBackbone
    /// The token appended after each row's last real token.
    public let token: Int
    /// A token put before each row (BERT's [CLS]), if any.
    public let leading: Int?

    /// Wraps `base`.
    public init(_ base: any RewardBackbone, token: Int, leading: Int? = nil) {
        self.base = base; self.token = token; self.leading = leading; super.init()
    }

    /// The base's parameters, under its own names.
    public override func children() -> [(String, Any)] { base.children() }
    /// The base's width.
    public var featureSize: Int { base.featureSize }
    /// The base's.
    public var parametersUnusedByFeatures: [String] { base.parametersUnusedByFeatures }

    /// The base's features of the rows with `leading` prepended and `token` appended, [S, C].
    public func features(_ batch: SequenceBatch) -> Tensor {
        let head = leading.map { [$0] } ?? []
        let rows = (0..<batch.rows).map { ScoredSequence(prompt: [], completion: head + batch.tokens(row: $0) + [token]) }
        return base.features(SequenceBatch(rows))
    }
}
