// Decoder-only transformer: causal self-attention with a fused qkv
// projection, pre-LN blocks with a 4× GELU MLP, and a GPT with learned
// position embeddings. Parameter names match the PyTorch reference model
// (`tok`, `pos`, `blocks.N.{ln1,qkv,proj,ln2,fc,out}`, `lnf`, `head`).

import Anneal
import Foundation

/// Multi-head causal self-attention: qkv = Linear(C, 3C), softmax(q·kᵀ/√Dh + mask)·v, proj = Linear(C, C).
public final class CausalSelfAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let headCount: Int

    public init(dimensions: Int, headCount: Int) {
        require(dimensions % headCount == 0, "attention: \(dimensions) dimensions not divisible by \(headCount) heads")
        qkv = Linear(dimensions, 3 * dimensions)
        proj = Linear(dimensions, dimensions)
        self.headCount = headCount
        super.init()
    }

    /// x [B, T, C] → [B, T, C].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, t, c) = (x.shape[0], x.shape[1], x.shape[2])
        let dh = c / headCount
        // [B, T, 3C] → [3, B, H, T, Dh] in one permute; attention reads q, k, v as its three slabs.
        let heads = qkv(x).reshaped([b, t, 3, headCount, dh]).permuted([2, 0, 3, 1, 4])
        let y = Tensor.causalAttention(packed: heads, scale: 1 / Float(dh).squareRoot())
        return proj(y.permuted([0, 2, 1, 3]).reshaped([b, t, c]))
    }
}

/// Pre-LN transformer block: x + attn(ln1(x)), then + out(gelu(fc(ln2(x)))).
/// The attention's qkv and proj appear directly under the block's name.
public final class TransformerBlock: Module {
    public let ln1: LayerNorm
    public let attention: CausalSelfAttention
    public let ln2: LayerNorm
    public let fc: Linear
    public let out: Linear

    public init(dimensions: Int, headCount: Int) {
        ln1 = LayerNorm(dimensions)
        attention = CausalSelfAttention(dimensions: dimensions, headCount: headCount)
        ln2 = LayerNorm(dimensions)
        fc = Linear(dimensions, 4 * dimensions)
        out = Linear(4 * dimensions, dimensions)
        super.init()
    }

    public override func children() -> [(String, Any)] {
        [("ln1", ln1), ("ln2", ln2), ("qkv", attention.qkv), ("proj", attention.proj), ("fc", fc), ("out", out)]
    }

    /// x [B, T, C] → [B, T, C].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let a = ProfileScope.module("attention", ProfileScope.module("ln1", x) { ln1($0) }) { attention($0) }
        let h = x + a
        let f = ProfileScope.module("fc", ProfileScope.module("ln2", h) { ln2($0) }) { fc($0) }
        return h + ProfileScope.module("out", f.gelu()) { out($0) }
    }
}

/// Shape of a GPT.
public struct GPTConfig: Codable, Sendable, Equatable {
    public var vocabularySize: Int
    public var contextLength: Int
    public var dimensions: Int
    public var layerCount: Int
    public var headCount: Int
    public var tiedEmbeddings: Bool

    public init(vocabularySize: Int, contextLength: Int, dimensions: Int, layerCount: Int, headCount: Int,
                tiedEmbeddings: Bool = false) {
        self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.dimensions = dimensions
        self.layerCount = layerCount; self.headCount = headCount; self.tiedEmbeddings = tiedEmbeddings
    }
}

/// GPT: token + learned position embeddings, pre-LN blocks, final LayerNorm,
/// LM head without bias (optionally tied to the token embedding).
public final class GPT: Module {
    public let config: GPTConfig
    public let tok: Embedding
    public let pos: Embedding
    public let blocks: [TransformerBlock]
    public let lnf: LayerNorm
    public let head: Linear

    public init(_ config: GPTConfig) {
        self.config = config
        tok = Embedding(config.vocabularySize, config.dimensions)
        pos = Embedding(config.contextLength, config.dimensions)
        blocks = (0..<config.layerCount).map { _ in TransformerBlock(dimensions: config.dimensions, headCount: config.headCount) }
        lnf = LayerNorm(config.dimensions)
        head = Linear(config.dimensions, config.vocabularySize, bias: false)
        if config.tiedEmbeddings { head.weight.assign(tok.weight.value) }
        super.init()
    }

    public override func children() -> [(String, Any)] {
        var c: [(String, Any)] = [("tok", tok), ("pos", pos)]
        c += blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
        c += [("lnf", lnf), ("head", config.tiedEmbeddings ? TiedHead(weight: tok.weight) : head)]
        return c
    }

    /// The final hidden states [B, T, C] for token ids [B, T] (row-major).
    public func hidden(_ ids: [Int], batch: Int) -> Tensor {
        let t = ids.count / batch
        require(t <= config.contextLength, "sequence length \(t) exceeds the context length \(config.contextLength)")
        var x = ProfileScope.module("tok") { tok(ids, shape: [batch, t]) }
            + ProfileScope.module("pos") { pos(Array(0..<t), shape: [t]) }
        for (i, block) in blocks.enumerated() { x = ProfileScope.module("blocks.\(i)", x) { block($0) } }
        return ProfileScope.module("lnf", x) { lnf($0) }
    }

    /// Logits [B, T, V] for token ids [B, T].
    public func callAsFunction(_ ids: [Int], batch: Int) -> Tensor {
        let h = hidden(ids, batch: batch)
        let w = config.tiedEmbeddings ? tok.weight.value : head.weight.value
        return ProfileScope.module("head", h) { Tensor.linear($0, weight: w) }
    }
}

/// The LM head's view of a tied embedding: exposes `weight` as `head.weight`.
final class TiedHead: Module {
    let weight: Parameter
    init(weight: Parameter) { self.weight = weight; super.init() }
}
