// Basic layers: Linear, Embedding, LayerNorm, Dropout, activations and
// Sequential. Default initialisation is distributed as PyTorch's.

import Anneal
import Foundation

/// y = x·Wᵀ + b. weight [out, in], bias [out]; both U(−1/√in, 1/√in) as
/// PyTorch's `nn.Linear` (Kaiming-uniform with a = √5).
public final class Linear: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inputFeatures: Int, outputFeatures: Int
    /// An optional adapter (LoRA) whose contribution is added to the output:
    /// y = x·Wᵀ + b + adapter(x). Its children are listed under this layer's
    /// name (`<layer>.lora_A.weight`), so checkpoints keep peft's names.
    public var adapter: (any LinearAdapter)?

    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true) {
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        let bound = 1 / Float(inputFeatures).squareRoot()
        weight = Parameter(Tensor.uniform([outputFeatures, inputFeatures], low: -bound, high: bound,
                                          generator: &GlobalRandom.generator))
        self.bias = bias ? Parameter(Tensor.uniform([outputFeatures], low: -bound, high: bound,
                                                    generator: &GlobalRandom.generator)) : nil
        super.init()
    }

    /// x [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = Tensor.linear(x, weight: weight.value, bias: bias?.value)
        return adapter.map { $0.adding(to: y, input: x) } ?? y
    }

    /// weight, bias, then the adapter's children (not nested under "adapter").
    public override func children() -> [(String, Any)] {
        super.children().filter { $0.0 != "adapter" } + (adapter?.children() ?? [])
    }
}

/// Lookup table weight [V, D], initialised N(0, 1) as `nn.Embedding`.
public final class Embedding: Module {
    public let weight: Parameter

    public init(_ count: Int, _ dimensions: Int) {
        weight = Parameter(Tensor.randn([count, dimensions], generator: &GlobalRandom.generator))
        super.init()
    }

    /// indices (shape S) → [S..., D].
    public func callAsFunction(_ indices: [Int], shape: [Int]) -> Tensor {
        Tensor.embedding(indices, shape: shape, weight: weight.value)
    }
}

/// Layer norm over the last axis with affine weight (ones) and bias (zeros).
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter
    public let eps: Float

    public init(_ dimensions: Int, eps: Float = 1e-5) {
        weight = Parameter(Tensor.ones([dimensions]))
        bias = Parameter(Tensor.zeros([dimensions]))
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.layerNorm(x, weight: weight.value, bias: bias.value, eps: eps)
    }
}

/// Zeroes each element with probability p in training and scales the rest
/// by 1/(1−p); the identity in evaluation mode. Draws from `GlobalRandom`.
public final class Dropout: Module, UnaryLayer {
    public let probability: Float

    public init(_ probability: Float = 0.5) {
        require(probability >= 0 && probability < 1, "dropout probability \(probability) not in [0, 1)")
        self.probability = probability
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return x }
        let keep = 1 - probability
        let mask = Tensor.uniform(x.shape, generator: &GlobalRandom.generator) .< Tensor(keep)
        return x * (mask * (1 / keep))
    }
}

/// max(x, 0).
public final class ReLU: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

/// GELU (exact erf form by default).
public final class GELU: Module, UnaryLayer {
    public let approximate: Bool
    public init(approximate: Bool = false) { self.approximate = approximate; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.gelu(approximate: approximate) }
}

/// tanh.
public final class Tanh: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.tanh() }
}

/// Layers applied in order; children are named "0", "1", … as `nn.Sequential`.
public final class Sequential: Module, UnaryLayer {
    public let layers: [any UnaryLayer]

    public init(_ layers: [any UnaryLayer]) { self.layers = layers; super.init() }

    public override func children() -> [(String, Any)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }

    /// Applies the layers in order, each inside its profiler module scope ("0", "1", …;
    /// a single flag check when no profiler runs).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() { h = ProfileScope.module(String(i), h) { layer($0) } }
        return h
    }

    /// An MLP: Linear layers of the given sizes with an activation between them
    /// (parameters named 0.weight, 2.weight, … as PyTorch's Sequential MLP).
    public static func mlp(_ sizes: [Int], activation: () -> any UnaryLayer = { ReLU() }) -> Sequential {
        var layers: [any UnaryLayer] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(Linear(sizes[i], sizes[i + 1]))
            if i < sizes.count - 2 { layers.append(activation()) }
        }
        return Sequential(layers)
    }
}
