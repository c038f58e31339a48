// LoRA (Hu et al. 2021, as Hugging Face peft): a rank-r update s·B·A added to
// chosen Linear layers, y = x·Wᵀ + b + s·dropout(x)·Aᵀ·Bᵀ with s = α/r, trained
// while everything else stays frozen; merge folds s·B·A into W and back.

import Anneal
import Foundation

/// Something that adds a learned term to a `Linear` layer's output.
///
/// Attached through `Linear.adapter`; its children appear under the layer's
/// name (an adapter holding `lora_A` on layer `fc` gives `fc.lora_A.weight`).
public protocol LinearAdapter: Module {
    /// y + Δ(x), for the layer's input x [..., in] and output y [..., out].
    func adding(to output: Tensor, input: Tensor) -> Tensor
}

/// A LoRA adapter for one Linear(in, out): Δ(x) = s·dropout(x)·Aᵀ·Bᵀ with
/// A [r, in] (`lora_A.weight`, Kaiming-uniform U(−1/√in, 1/√in) as peft),
/// B [out, r] (`lora_B.weight`, zeros, so Δ = 0 before training) and s = α/r.
/// While merged into the base weight, Δ is not added again.
public final class LoRA: Module, LinearAdapter {
    /// A as a bias-free Linear(in, r): weight [r, in].
    public let down: Linear
    /// B as a bias-free Linear(r, out): weight [out, r].
    public let up: Linear
    /// Dropout on the adapter's input only (the base path sees x unchanged).
    public let dropout: Dropout
    /// r, the inner dimension.
    public let rank: Int
    /// α; the update is scaled by s = α/r.
    public let alpha: Float
    /// True while s·B·A is folded into the base layer's weight.
    public internal(set) var isMerged = false

    /// s = α / r.
    public var scaling: Float { alpha / Float(rank) }

    /// An adapter for a Linear(`inputFeatures`, `outputFeatures`); A draws from `GlobalRandom`.
    public init(inputFeatures: Int, outputFeatures: Int, rank: Int, alpha: Float, dropout: Float = 0) {
        require(rank >= 1, "LoRA rank must be at least 1, got \(rank)")
        down = Linear(inputFeatures, rank, bias: false)
        up = Linear(rank, outputFeatures, bias: false)
        up.weight.assign(Tensor.zeros([outputFeatures, rank]))
        self.dropout = Dropout(dropout)
        self.rank = rank
        self.alpha = alpha
        super.init()
    }

    /// peft's names: `lora_A` (A), `lora_B` (B), `lora_dropout`.
    public override func children() -> [(String, Any)] {
        [("lora_A", down), ("lora_B", up), ("lora_dropout", dropout)]
    }

    /// y + s·(dropout(x)·Aᵀ)·Bᵀ; the scale is applied to the [..., r] intermediate. Returns y when merged.
    public func adding(to output: Tensor, input: Tensor) -> Tensor {
        if isMerged { return output }
        return output + up(down(dropout(input)) * scaling)
    }

    /// s·B·A [out, in], the update merging adds to the base weight (outside autograd).
    public func delta() -> Tensor {
        Runtime.withNoGrad { Tensor.matmul(up.weight.value, down.weight.value) * scaling }
    }
}

/// Which Linear layers get LoRA adapters, and their shape.
public struct LoRAConfiguration: Sendable, Equatable {
    /// r.
    public var rank: Int
    /// α (update scale s = α/r).
    public var alpha: Float
    /// Dropout probability on the adapter input.
    public var dropout: Float
    /// Module-name patterns of the Linear layers to adapt: a glob on the
    /// dotted name (`encoder.layer.[3-5].*.query`), or, as peft's
    /// `target_modules`, a name suffix (`query` matches `….attention.self.query`).
    public var targets: [String]
    /// Parameter-name globs that stay trainable besides the adapters (peft's
    /// `modules_to_save`, e.g. a new classification head `head.*`).
    public var trainable: [String]

    /// A configuration (peft's defaults: r = 8, α = 8, no dropout).
    public init(rank: Int = 8, alpha: Float = 8, dropout: Float = 0, targets: [String], trainable: [String] = []) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targets = targets; self.trainable = trainable
    }

    /// True if the module called `name` is a target.
    public func targets(_ name: String) -> Bool {
        targets.contains { Glob.matches($0, name) || Glob.matches("*." + $0, name) }
    }
}

/// LoRA set-up that does not fit the model.
public struct LoRAError: Error, CustomStringConvertible {
    /// What does not fit, naming the patterns and the model's Linear layers.
    public let description: String
}

extension Module {
    /// Every Linear layer carrying a LoRA adapter, with its dotted name.
    public func loraLayers() -> [(String, Linear, LoRA)] {
        namedModules().compactMap { name, m in
            guard let linear = m as? Linear, let lora = linear.adapter as? LoRA else { return nil }
            return (name, linear, lora)
        }
    }

    /// Attaches a LoRA adapter to every Linear layer whose name matches
    /// `configuration.targets`, then freezes every parameter except the
    /// adapters' and those matching `configuration.trainable`.
    ///
    /// Adapter parameters are named `<layer>.lora_A.weight` [r, in] and
    /// `<layer>.lora_B.weight` [out, r]. Returns the adapted layers' names.
    /// Throws when no Linear layer matches or a target already has an adapter.
    @discardableResult
    public func applyLoRA(_ configuration: LoRAConfiguration) throws -> [String] {
        let linears = namedModules().compactMap { name, m in (m as? Linear).map { (name, $0) } }
        let parts = Set(loraLayers().flatMap { [ObjectIdentifier($0.2.down), ObjectIdentifier($0.2.up)] })
        let chosen = linears.filter { !parts.contains(ObjectIdentifier($0.1)) && configuration.targets($0.0) }
        guard !chosen.isEmpty else {
            let names = linears.map(\.0).filter { !$0.isEmpty }
            throw LoRAError(description: "LoRA targets \(configuration.targets) match no Linear layer (Linear layers: \(names.prefix(20).joined(separator: ", "))\(names.count > 20 ? ", …" : ""))")
        }
        if let taken = chosen.first(where: { $0.1.adapter != nil }) {
            throw LoRAError(description: "layer '\(taken.0)' already has an adapter")
        }
        for (_, linear) in chosen {
            linear.adapter = LoRA(inputFeatures: linear.inputFeatures, outputFeatures: linear.outputFeatures,
                                  rank: configuration.rank, alpha: configuration.alpha, dropout: configuration.dropout)
        }
        freeze()
        if !configuration.trainable.isEmpty { unfreeze(configuration.trainable) }
        for (_, _, lora) in loraLayers() { lora.unfreeze() }
        return chosen.map(\.0)
    }

    /// Folds every adapter into its layer: W ← W + s·B·A (exact in real
    /// arithmetic; the adapters then add nothing until `unmergeLoRA`).
    public func mergeLoRA() {
        for (_, linear, lora) in loraLayers() where !lora.isMerged {
            addToWeight(linear, lora.delta(), sign: 1)
            lora.isMerged = true
        }
    }

    /// Undoes `mergeLoRA`: W ← W − s·B·A (restores W up to Float32 rounding of the two additions).
    public func unmergeLoRA() {
        for (_, linear, lora) in loraLayers() where lora.isMerged {
            addToWeight(linear, lora.delta(), sign: -1)
            lora.isMerged = false
        }
    }

    /// Detaches every adapter, merging it first when `merge` (the model is
    /// then a plain model with the adapted weights, as peft's `merge_and_unload`).
    public func removeLoRA(merge: Bool) {
        if merge { mergeLoRA() } else { unmergeLoRA() }
        for (_, linear, _) in loraLayers() { linear.adapter = nil }
    }

    /// The adapters' parameters by name (`<layer>.lora_A.weight`, …) plus the
    /// parameters matching `including` (e.g. a new head): what an adapter file holds.
    public func adapterStateDict(including: [String] = []) -> [String: Tensor] {
        let names = adapterParameterNames(including: including)
        return stateDict().filter { names.contains($0.key) }
    }

    /// Loads `adapterStateDict` output into adapters already attached by
    /// `applyLoRA` (and the `including` parameters). With `.all`, every
    /// adapter parameter must be given and every given name must be one;
    /// shape mismatches are always errors (`ModuleLoadError` lists them).
    @discardableResult
    public func loadAdapterState(_ state: [String: Tensor], including: [String] = [], verify: Verify = .all) throws -> LoadReport {
        let names = adapterParameterNames(including: including)
        let own = Dictionary(namedParameters().map { ($0.0, $0.1.shape) }, uniquingKeysWith: { a, _ in a })
        let unexpected = state.keys.filter { !names.contains($0) }.sorted()
        let missing = names.filter { state[$0] == nil }.sorted()
        let mismatched = state.compactMap { name, t -> String? in
            guard names.contains(name), let shape = own[name], shape != t.shape else { return nil }
            return "\(name): adapter file \(t.shape) vs model \(shape)"
        }.sorted()
        if !mismatched.isEmpty || (verify == .all && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw ModuleLoadError(missing: verify == .all ? missing : [], unexpected: verify == .all ? unexpected : [],
                                  shapeMismatches: mismatched)
        }
        var report = LoadReport()
        report.missing = missing
        report.unexpected = unexpected
        for (name, p) in namedParameters() where names.contains(name) {
            if let t = state[name] { p.assign(t); report.loaded.append(name) }
        }
        return report
    }

    func adapterParameterNames(including: [String]) -> Set<String> {
        let adapterParams = Set(loraLayers().flatMap { $0.2.namedParameters().map { ObjectIdentifier($0.1) } })
        return Set(namedParameters().filter { name, p in
            adapterParams.contains(ObjectIdentifier(p)) || including.contains { Glob.matches($0, name) }
        }.map(\.0))
    }

    private func addToWeight(_ linear: Linear, _ delta: Tensor, sign: Float) {
        delta.withUnsafeBufferPointer { d in
            linear.weight.withMutableValues { w in
                for i in 0..<w.count { w[i] += sign * d[i] }
            }
        }
    }
}
