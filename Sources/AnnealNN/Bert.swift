// BERT encoder (post-LN, as Hugging Face `BertModel`) with parameter names
// matching its checkpoints one to one (`encoder.layer.0.attention.self.query.weight`),
// plus mean pooling and L2 normalisation for sentence embeddings
// (sentence-transformers' all-MiniLM-L6-v2 recipe), all composed from
// differentiable ops so the encoder can be fine-tuned.

import Anneal
import Foundation

// MARK: - Configuration

/// The shape of a BERT encoder, read from a Hugging Face `config.json`
/// (`hidden_size`, `num_hidden_layers`, …; unknown keys are ignored).
public struct BertConfig: Codable, Sendable, Equatable {
    /// V: rows of the word-embedding table.
    public var vocabularySize: Int
    /// C: width of every hidden state.
    public var hiddenSize: Int
    /// L: number of encoder layers.
    public var layerCount: Int
    /// H: attention heads per layer (C must be a multiple of H).
    public var headCount: Int
    /// Width of the feed-forward layer (usually 4C).
    public var intermediateSize: Int
    /// P: rows of the position-embedding table, i.e. the longest sequence.
    public var maxPositions: Int
    /// Rows of the token-type (segment) embedding table.
    public var typeVocabularySize: Int
    /// ε of every LayerNorm (1e-12 in BERT).
    public var layerNormEps: Float
    /// Feed-forward activation: "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh form) or "relu".
    public var hiddenActivation: String
    /// Dropout after the embeddings and after each residual branch, in training mode.
    public var hiddenDropout: Float
    /// The id used for right padding.
    public var padTokenID: Int

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenActivation = "hidden_act"
        case hiddenDropout = "hidden_dropout_prob", padTokenID = "pad_token_id"
    }

    /// A configuration; the defaults are BERT's.
    public init(vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                maxPositions: Int = 512, typeVocabularySize: Int = 2, layerNormEps: Float = 1e-12,
                hiddenActivation: String = "gelu", hiddenDropout: Float = 0.1, padTokenID: Int = 0) {
        self.vocabularySize = vocabularySize; self.hiddenSize = hiddenSize; self.layerCount = layerCount
        self.headCount = headCount; self.intermediateSize = intermediateSize; self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize; self.layerNormEps = layerNormEps
        self.hiddenActivation = hiddenActivation; self.hiddenDropout = hiddenDropout; self.padTokenID = padTokenID
    }

    /// Decodes a `config.json`; the sizes are required, the rest default as in `init`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(vocabularySize: try c.decode(Int.self, forKey: .vocabularySize),
                  hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
                  layerCount: try c.decode(Int.self, forKey: .layerCount),
                  headCount: try c.decode(Int.self, forKey: .headCount),
                  intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
                  maxPositions: try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 512,
                  typeVocabularySize: try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2,
                  layerNormEps: try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12,
                  hiddenActivation: try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu",
                  hiddenDropout: try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? 0.1,
                  padTokenID: try c.decodeIfPresent(Int.self, forKey: .padTokenID) ?? 0)
    }

    /// Reads a Hugging Face `config.json`. Throws `BertConfigError` naming the file
    /// when it is missing, is not JSON, lacks a size, or describes an unusable model.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "\(error.localizedDescription)" : "no such file"
            throw BertConfigError(path: url.path, reason: reason)
        }
        do { self = try JSONDecoder().decode(BertConfig.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw BertConfigError(path: url.path, reason: "missing \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context) {
            throw BertConfigError(path: url.path, reason: "\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch {
            throw BertConfigError(path: url.path, reason: "not a JSON object (\(error.localizedDescription))")
        }
        if let problem = validationProblem { throw BertConfigError(path: url.path, reason: problem) }
    }

    /// Why this configuration cannot build a model, or nil when it can.
    public var validationProblem: String? {
        if [vocabularySize, hiddenSize, layerCount, headCount, intermediateSize, maxPositions, typeVocabularySize]
            .contains(where: { $0 <= 0 }) { return "every size must be positive" }
        if hiddenSize % headCount != 0 { return "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)" }
        if BertActivation(hiddenActivation) == nil { return "unsupported hidden_act \"\(hiddenActivation)\" (gelu, gelu_new, gelu_pytorch_tanh, relu)" }
        if !(0..<1).contains(hiddenDropout) { return "hidden_dropout_prob \(hiddenDropout) not in [0, 1)" }
        if !(0..<vocabularySize).contains(padTokenID) { return "pad_token_id \(padTokenID) outside the vocabulary" }
        return nil
    }
}

/// A `config.json` that cannot describe a BERT encoder.
public struct BertConfigError: Error, CustomStringConvertible, Sendable {
    /// The file read.
    public let path: String
    /// What is wrong with it.
    public let reason: String
    /// "BERT config PATH: reason".
    public var description: String { "BERT config \(path): \(reason)" }
}

/// The feed-forward activation named by `hidden_act`.
enum BertActivation {
    case geluErf, geluTanh, relu
    init?(_ name: String) {
        switch name {
        case "gelu": self = .geluErf
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .geluErf: x.gelu(approximate: false)
        case .geluTanh: x.gelu(approximate: true)
        case .relu: x.relu()
        }
    }
}

// MARK: - Layers

/// Word + position + token-type embeddings, then LayerNorm and dropout:
/// e[b,t] = LN(W_word[id[b,t]] + W_type[type[b,t]] + W_pos[t]).
/// Parameters: `word_embeddings.weight` [V, C], `position_embeddings.weight` [P, C],
/// `token_type_embeddings.weight` [types, C], `LayerNorm.{weight,bias}` [C].
public final class BertEmbeddings: Module, @unchecked Sendable {
    /// W_word [V, C] (`word_embeddings`).
    public let wordEmbeddings: Embedding
    /// W_pos [P, C] (`position_embeddings`).
    public let positionEmbeddings: Embedding
    /// W_type [types, C] (`token_type_embeddings`).
    public let tokenTypeEmbeddings: Embedding
    /// LayerNorm(C, ε) (`LayerNorm`).
    public let layerNorm: LayerNorm
    /// Hidden dropout (no parameters).
    public let dropout: Dropout

    /// Embedding tables and LayerNorm for `config`.
    public init(_ config: BertConfig) {
        wordEmbeddings = Embedding(config.vocabularySize, config.hiddenSize)
        positionEmbeddings = Embedding(config.maxPositions, config.hiddenSize)
        tokenTypeEmbeddings = Embedding(config.typeVocabularySize, config.hiddenSize)
        layerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        dropout = Dropout(config.hiddenDropout)
        super.init()
    }

    /// Hugging Face names; the dropout has no parameters and is listed for `train()`/`eval()`.
    public override func children() -> [(String, Any)] {
        [("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
         ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm), ("dropout", dropout)]
    }

    /// ids [B·T] (row-major [B, T]) → [B, T, C]; `tokenTypes` [B·T] defaults to all 0.
    /// Positions are 0..<T for every row (T ≤ P).
    public func callAsFunction(_ ids: [Int], batch: Int, tokenTypes: [Int]? = nil) -> Tensor {
        let t = ids.count / batch
        let types = tokenTypes.map { tokenTypeEmbeddings($0, shape: [batch, t]) } ?? tokenTypeEmbeddings([0], shape: [1])
        let x = wordEmbeddings(ids, shape: [batch, t]) + types + positionEmbeddings(Array(0..<t), shape: [t])
        return dropout(layerNorm(x))
    }
}

/// Multi-head self-attention with separate projections (`query`, `key`, `value`,
/// each Linear(C, C)): softmax(q·kᵀ/√Dh + padding mask)·v per head, heads concatenated.
public final class BertSelfAttention: Module, @unchecked Sendable {
    /// W_q [C, C], b_q [C].
    public let query: Linear
    /// W_k [C, C], b_k [C].
    public let key: Linear
    /// W_v [C, C], b_v [C].
    public let value: Linear
    /// H; each head has Dh = C/H dimensions.
    public let headCount: Int

    /// Projections for `config.hiddenSize` split over `config.headCount` heads.
    public init(_ config: BertConfig) {
        query = Linear(config.hiddenSize, config.hiddenSize)
        key = Linear(config.hiddenSize, config.hiddenSize)
        value = Linear(config.hiddenSize, config.hiddenSize)
        headCount = config.headCount
        super.init()
    }

    /// `query`, `key`, `value`.
    public override func children() -> [(String, Any)] { [("query", query), ("key", key), ("value", value)] }

    /// x [B, T, C] → context [B, T, C]. Keys at positions ≥ `keyLengths[b]` are
    /// masked out (right padding); nil attends to all T keys.
    public func callAsFunction(_ x: Tensor, keyLengths: [Int]?) -> Tensor {
        let (b, t, c) = (x.shape[0], x.shape[1], x.shape[2])
        let dh = c / headCount
        func heads(_ y: Tensor) -> Tensor { y.reshaped([b, t, headCount, dh]).permuted([0, 2, 1, 3]) }  // [B, H, T, Dh]
        let context = Tensor.attention(q: heads(query(x)), k: heads(key(x)), v: heads(value(x)),
                                       scale: 1 / Float(dh).squareRoot(), causal: false, keyLengths: keyLengths)
        return context.permuted([0, 2, 1, 3]).reshaped([b, t, c])
    }
}

/// A residual branch's output: LN(x + dropout(dense(h))), with `dense` Linear(in, C)
/// and `LayerNorm` [C]. BERT's `attention.output` (in = C) and `output` (in = 4C).
public final class BertResidualOutput: Module, @unchecked Sendable {
    /// Linear(in, C) (`dense`).
    public let dense: Linear
    /// LayerNorm(C, ε) (`LayerNorm`).
    public let layerNorm: LayerNorm
    /// Hidden dropout on the branch (no parameters).
    public let dropout: Dropout

    /// dense: Linear(`inputSize`, C).
    public init(_ config: BertConfig, inputSize: Int) {
        dense = Linear(inputSize, config.hiddenSize)
        layerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        dropout = Dropout(config.hiddenDropout)
        super.init()
    }

    /// `dense`, `LayerNorm` (and the parameterless dropout).
    public override func children() -> [(String, Any)] { [("dense", dense), ("LayerNorm", layerNorm), ("dropout", dropout)] }

    /// h [B, T, in], residual x [B, T, C] → LN(x + dropout(dense(h))) [B, T, C].
    public func callAsFunction(_ h: Tensor, residual x: Tensor) -> Tensor {
        layerNorm(x + dropout(dense(h)))
    }
}

/// Self-attention then its output projection (names `self.*`, `output.*`).
public final class BertAttention: Module, @unchecked Sendable {
    /// The q/k/v projections and attention (`self`).
    public let selfAttention: BertSelfAttention
    /// LN(x + dense(context)) (`output`).
    public let output: BertResidualOutput

    /// Layers for `config`.
    public init(_ config: BertConfig) {
        selfAttention = BertSelfAttention(config)
        output = BertResidualOutput(config, inputSize: config.hiddenSize)
        super.init()
    }

    /// `self`, `output`.
    public override func children() -> [(String, Any)] { [("self", selfAttention), ("output", output)] }

    /// x [B, T, C] → LN(x + dense(attention(x))) [B, T, C].
    public func callAsFunction(_ x: Tensor, keyLengths: [Int]?) -> Tensor {
        output(selfAttention(x, keyLengths: keyLengths), residual: x)
    }
}

/// The feed-forward expansion: act(dense(x)), dense Linear(C, intermediate) (name `dense`).
public final class BertIntermediate: Module, @unchecked Sendable {
    /// Linear(C, intermediate) (`dense`).
    public let dense: Linear
    let activation: BertActivation

    /// Layers for `config` (activation from `hiddenActivation`).
    public init(_ config: BertConfig) {
        dense = Linear(config.hiddenSize, config.intermediateSize)
        activation = BertActivation(config.hiddenActivation) ?? .geluErf
        super.init()
    }

    /// `dense`.
    public override func children() -> [(String, Any)] { [("dense", dense)] }

    /// x [B, T, C] → [B, T, intermediate].
    public func callAsFunction(_ x: Tensor) -> Tensor { activation(dense(x)) }
}

/// One post-LN encoder layer: h = LN(x + Attn(x)); y = LN(h + W₂·act(W₁·h)).
/// Names: `attention.*`, `intermediate.dense.*`, `output.{dense,LayerNorm}.*`.
public final class BertLayer: Module, @unchecked Sendable {
    /// Self-attention block (`attention`).
    public let attention: BertAttention
    /// Feed-forward expansion (`intermediate`).
    public let intermediate: BertIntermediate
    /// Feed-forward projection back to C with residual and LayerNorm (`output`).
    public let output: BertResidualOutput

    /// Layers for `config`.
    public init(_ config: BertConfig) {
        attention = BertAttention(config)
        intermediate = BertIntermediate(config)
        output = BertResidualOutput(config, inputSize: config.intermediateSize)
        super.init()
    }

    /// `attention`, `intermediate`, `output`.
    public override func children() -> [(String, Any)] {
        [("attention", attention), ("intermediate", intermediate), ("output", output)]
    }

    /// x [B, T, C] → [B, T, C].
    public func callAsFunction(_ x: Tensor, keyLengths: [Int]?) -> Tensor {
        let h = attention(x, keyLengths: keyLengths)
        return output(intermediate(h), residual: h)
    }
}

/// The stack of encoder layers (names `layer.0.*` … `layer.{L−1}.*`).
public final class BertEncoder: Module, @unchecked Sendable {
    /// The L layers, in order (`layer.N`).
    public let layers: [BertLayer]

    /// `config.layerCount` layers.
    public init(_ config: BertConfig) {
        layers = (0..<config.layerCount).map { _ in BertLayer(config) }
        super.init()
    }

    /// `layer.0` … `layer.{L−1}`.
    public override func children() -> [(String, Any)] { layers.enumerated().map { ("layer.\($0.offset)", $0.element) } }

    /// x [B, T, C] through every layer → [B, T, C].
    public func callAsFunction(_ x: Tensor, keyLengths: [Int]?) -> Tensor {
        layers.reduce(x) { $1($0, keyLengths: keyLengths) }
    }
}

/// BERT's pooler: tanh(dense(h[:, 0])) for the first ([CLS]) token (name `dense`).
public final class BertPooler: Module, @unchecked Sendable {
    /// Linear(C, C) (`dense`).
    public let dense: Linear

    /// A pooler for `config`.
    public init(_ config: BertConfig) {
        dense = Linear(config.hiddenSize, config.hiddenSize)
        super.init()
    }

    /// `dense`.
    public override func children() -> [(String, Any)] { [("dense", dense)] }

    /// hidden [B, T, C] → [B, C].
    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        let first = hidden.slice(axis: 1, 0..<1)
        return dense(first.reshaped([hidden.shape[0], hidden.shape[2]])).tanh()
    }
}

// MARK: - Model

/// A BERT encoder: `embeddings.*`, `encoder.layer.N.*` and, optionally,
/// `pooler.dense.*` — exactly the names of a Hugging Face `BertModel` state dict.
///
/// Sentence embeddings (`sentenceEmbeddings`) follow sentence-transformers:
/// the last hidden states are averaged over the real (unpadded) tokens and the
/// mean is divided by its L2 norm. The pooler is not used for them, so by
/// default the model has none and `load(stateDict:)` ignores `pooler.*`.
/// Attention-probability dropout is not applied (the fused attention has no
/// dropout); hidden dropout is, in training mode. Call `eval()` for inference.
public final class BertModel: Module, @unchecked Sendable {
    /// The sizes the model was built with.
    public let config: BertConfig
    /// Token, position and type embeddings (`embeddings`).
    public let embeddings: BertEmbeddings
    /// The layer stack (`encoder`).
    public let encoder: BertEncoder
    /// The [CLS] pooler, present only when built with `pooler: true`.
    public let pooler: BertPooler?

    /// A randomly initialised encoder (PyTorch default layer initialisation).
    /// `config` must be valid (`config.validationProblem == nil`).
    public init(_ config: BertConfig, pooler: Bool = false) {
        require(config.validationProblem == nil, "BertModel: \(config.validationProblem ?? "")")
        self.config = config
        embeddings = BertEmbeddings(config)
        encoder = BertEncoder(config)
        self.pooler = pooler ? BertPooler(config) : nil
        super.init()
    }

    /// `embeddings`, `encoder` and, when present, `pooler`.
    public override func children() -> [(String, Any)] {
        var c: [(String, Any)] = [("embeddings", embeddings), ("encoder", encoder)]
        if let pooler { c.append(("pooler", pooler)) }
        return c
    }

    /// Checkpoint entries that are buffers, not parameters (`embeddings.position_ids`, an I64 arange).
    public static let bufferNames: Set<String> = ["embeddings.position_ids"]

    /// Loads a Hugging Face BERT state dict by name. Buffers (`bufferNames`) are
    /// skipped, and so is `pooler.*` when this model has no pooler; everything
    /// else is checked as `update(parameters:verify:)` does: with `.all`, a
    /// missing or unexpected name is an error, and a shape mismatch always is
    /// (`ModuleLoadError` lists each).
    @discardableResult
    public func load(stateDict: [String: Tensor], verify: Verify = .all) throws -> LoadReport {
        let kept = stateDict.filter { name, _ in
            !Self.bufferNames.contains(name) && (pooler != nil || !name.hasPrefix("pooler."))
        }
        return try update(parameters: kept, verify: verify)
    }

    /// The last hidden states [B, T, C] for ids [B·T] (row-major [B, T], right
    /// padded); `lengths[b]` real tokens in row b (nil: all T). Requires T ≤ P
    /// and every id in the vocabulary.
    public func callAsFunction(_ ids: [Int], batch: Int, lengths: [Int]? = nil, tokenTypes: [Int]? = nil) -> Tensor {
        require(batch > 0 && ids.count % batch == 0 && !ids.isEmpty, "BertModel: \(ids.count) ids for batch \(batch)")
        let t = ids.count / batch
        require(t <= config.maxPositions, "BertModel: sequence length \(t) exceeds max_position_embeddings \(config.maxPositions)")
        let mask = lengths.flatMap { l in l.allSatisfy { $0 == t } ? nil : l }   // no mask work when nothing is padded
        return encoder(embeddings(ids, batch: batch, tokenTypes: tokenTypes), keyLengths: mask)
    }

    /// Right-pads token-id sequences with `config.padTokenID` to the longest one:
    /// ids [B·T] row-major, lengths [B], T = max length. Every sequence must be non-empty.
    public func padded(_ sequences: [[Int]]) -> (ids: [Int], lengths: [Int], length: Int) {
        require(!sequences.isEmpty && sequences.allSatisfy { !$0.isEmpty }, "BertModel: empty batch or empty sequence")
        let t = sequences.map(\.count).max()!
        var ids: [Int] = []
        ids.reserveCapacity(sequences.count * t)
        for s in sequences { ids += s; ids += repeatElement(config.padTokenID, count: t - s.count) }
        return (ids, sequences.map(\.count), t)
    }

    /// Normalised mean-pooled sentence embeddings [N, C] for N token-id sequences
    /// (each with its own [CLS]/[SEP], at most P ids; padded here on the right).
    /// Differentiable when gradients are enabled; wrap in `Runtime.withNoGrad`
    /// for frozen feature extraction.
    public func sentenceEmbeddings(_ sequences: [[Int]]) -> Tensor {
        let (ids, lengths, _) = padded(sequences)
        let hidden = self(ids, batch: sequences.count, lengths: lengths)
        return Self.l2Normalized(Self.meanPooled(hidden, lengths: lengths))
    }

    /// Mean over the first `lengths[b]` positions of each row: hidden [B, T, C] → [B, C],
    /// m[b] = Σ_{t<len_b} h[b,t] / max(len_b, 1e-9) (sentence-transformers' mean pooling).
    /// Composed from multiply and sum, so gradients reach only the real tokens.
    public static func meanPooled(_ hidden: Tensor, lengths: [Int]) -> Tensor {
        let (b, t) = (hidden.shape[0], hidden.shape[1])
        require(hidden.rank == 3 && lengths.count == b && lengths.allSatisfy { $0 >= 0 && $0 <= t },
                "meanPooled: lengths \(lengths) for hidden states \(hidden.shape)")
        if lengths.allSatisfy({ $0 == t }) { return hidden.mean(axis: 1) }
        var weights = [Float](repeating: 0, count: b * t)   // [B, T, 1]: 1/len on real tokens, 0 on padding
        for (row, len) in lengths.enumerated() where len > 0 {
            let w = 1 / Float(len)
            for i in 0..<len { weights[row * t + i] = w }
        }
        return (hidden * Tensor(shape: [b, t, 1], weights)).sum(axis: 1)
    }

    /// Rows divided by their L2 norm: x [N, C] → x / max(‖x‖₂, 1e-12) (as `F.normalize`).
    public static func l2Normalized(_ x: Tensor) -> Tensor {
        x / x.squared().sum(axis: -1, keepDim: true).sqrt().clamped(min: 1e-12)
    }
}
