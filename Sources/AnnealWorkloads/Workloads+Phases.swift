// Phased workloads for the profiler: the same models, data and seeds as
// `Workload.make`, with the step split into forward / backward / optimizer
// phases and the forward pass naming its module scopes (`ProfileScope`).

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// A workload whose training step marks its phases and module scopes.
///
/// Built with exactly the shapes, seeds and data of `Workload.make(name)`, so
/// `step()` computes bit-identical losses; with no profiler installed the
/// markers cost one flag load each.
public struct PhasedWorkload {
    /// "W1", "W2", "W4".
    public let name: String
    /// Items (samples or tokens) one step processes.
    public let itemsPerStep: Int
    /// The model being trained.
    public let model: Module
    /// The optimizer updating `model`.
    public let optimizer: any Optimizer
    /// The forward pass with module scopes: returns the scalar loss.
    public let forward: () -> Tensor

    /// Workload names that have a phased form.
    public static let names = ["W1", "W2", "W4"]

    /// One training step: zero grads and optimizer update in phase
    /// `.optimizer`, loss in `.forward`, `backward()` in `.backward`. Returns the loss.
    public func step() -> Float {
        ProfileScope.withPhase(.optimizer) { optimizer.zeroGrad() }
        let loss = ProfileScope.withPhase(.forward) { forward() }
        ProfileScope.withPhase(.backward) { loss.backward() }
        ProfileScope.withPhase(.optimizer) { optimizer.step() }
        return loss.item()
    }

    /// The phased form of workload `name` (nil if it has none).
    public static func make(_ name: String) -> PhasedWorkload? {
        GlobalRandom.seed(0)
        switch name {
        case "W1": return mlp(name, sizes: [784, 1024, 1024, 10], batch: 256)
        case "W4": return mlp(name, sizes: [32, 64, 64, 4], batch: 16)
        case "W2": return gpt()
        default: return nil
        }
    }

    /// MLP with ReLU, cross-entropy, SGD(lr 0.01) on seeded random data;
    /// parameters matching `frozen` globs are frozen.
    static func mlp(_ name: String, sizes: [Int], batch: Int, frozen: [String] = []) -> PhasedWorkload {
        let model = Sequential.mlp(sizes)
        if !frozen.isEmpty { model.freeze(frozen) }
        let opt = SGD(parameters: model.trainableParameters(), learningRate: 0.01)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([batch, sizes[0]], generator: &rng)
        let y = (0..<batch).map { _ in rng.nextInt(sizes.last!) }
        return PhasedWorkload(name: name, itemsPerStep: batch, model: model, optimizer: opt) {
            Tensor.crossEntropy(model(x), targets: y)
        }
    }

    /// Char GPT V65 T64 d128 L4 h4 (`Workload.gptConfig`), batch 32, AdamW(lr 3e-4).
    static func gpt() -> PhasedWorkload {
        let model = GPT(Workload.gptConfig)
        let opt = AdamW(parameters: model.trainableParameters(), learningRate: 3e-4)
        var rng = RandomGenerator(seed: 2)
        let x = (0..<(32 * 64)).map { _ in rng.nextInt(65) }, y = (0..<(32 * 64)).map { _ in rng.nextInt(65) }
        return PhasedWorkload(name: "W2", itemsPerStep: 32 * 64, model: model, optimizer: opt) {
            Tensor.crossEntropy(model(x, batch: 32).reshaped([-1, 65]), targets: y)
        }
    }
}

/// A model that cannot be rebuilt from its parameters.
public struct WorkloadError: Error, CustomStringConvertible {
    /// What does not fit.
    public let description: String
    /// An error with this message.
    public init(_ description: String) { self.description = description }
}

extension PhasedWorkload {
    /// A training step (cross-entropy on seeded random data, AdamW lr 1e-4)
    /// for a model rebuilt from its parameters, as a checkpoint stores them.
    ///
    /// Names under "model." (an `anneal train` checkpoint) are used with the
    /// prefix removed, other entries ignored. GPT names (`tok`, `pos`,
    /// `blocks.N.…`, `lnf`, `head`) give a GPT (vocabulary, context, width and
    /// depth from the shapes; `heads` must be given, it is not in the weights;
    /// no `head.weight` means tied embeddings) stepped on `batch` sequences of
    /// full context; `N.weight`/`N.bias` names give an MLP (ReLU between the
    /// Linear layers) stepped on `batch` rows. Throws naming what does not fit.
    public static func fromParameters(_ stored: [String: Tensor], heads: Int, batch: Int) throws -> PhasedWorkload {
        var params = stored
        if stored.keys.contains(where: { $0.hasPrefix("model.") }) {
            params = Dictionary(uniqueKeysWithValues: stored.filter { $0.key.hasPrefix("model.") }
                .map { (String($0.key.dropFirst(6)), $0.value) })
        }
        guard batch > 0 else { throw WorkloadError("batch must be positive, got \(batch)") }
        GlobalRandom.seed(0)
        var rng = RandomGenerator(seed: 1)
        if let tok = params["tok.weight"], let pos = params["pos.weight"], tok.rank == 2, pos.rank == 2 {
            let (v, d, t) = (tok.shape[0], tok.shape[1], pos.shape[0])
            let layers = Set(params.keys.compactMap { k -> Int? in
                k.hasPrefix("blocks.") ? Int(k.dropFirst(7).prefix { $0.isNumber }) : nil
            }).count
            guard heads > 0, d % heads == 0 else { throw WorkloadError("\(heads) heads do not divide the width \(d)") }
            let model = GPT(GPTConfig(vocabularySize: v, contextLength: t, dimensions: d, layerCount: layers,
                                      headCount: heads, tiedEmbeddings: params["head.weight"] == nil))
            if model.config.tiedEmbeddings { params["head.weight"] = tok }
            try load(model, params)
            let opt = AdamW(parameters: model.trainableParameters(), learningRate: 1e-4)
            let x = (0..<(batch * t)).map { _ in rng.nextInt(v) }, y = (0..<(batch * t)).map { _ in rng.nextInt(v) }
            return PhasedWorkload(name: "GPT", itemsPerStep: batch * t, model: model, optimizer: opt) {
                Tensor.crossEntropy(model(x, batch: batch).reshaped([-1, v]), targets: y)
            }
        }
        // An MLP: weights "0.weight", "2.weight", … of shapes [out, in] chaining.
        let weights = params.keys.compactMap { k -> (Int, Tensor)? in
            guard k.hasSuffix(".weight"), let i = Int(k.dropLast(7)), let w = params[k], w.rank == 2 else { return nil }
            return (i, w)
        }.sorted { $0.0 < $1.0 }
        guard let first = weights.first else {
            throw WorkloadError("not a GPT (tok/pos/blocks names) nor an MLP (0.weight, 2.weight, …): names \(params.keys.sorted().prefix(6))")
        }
        let sizes = [first.1.shape[1]] + weights.map { $0.1.shape[0] }
        let model = Sequential.mlp(sizes)
        try load(model, params)
        let opt = AdamW(parameters: model.trainableParameters(), learningRate: 1e-4)
        let x = Tensor.randn([batch, sizes[0]], generator: &rng)
        let y = (0..<batch).map { _ in rng.nextInt(sizes.last!) }
        return PhasedWorkload(name: "MLP", itemsPerStep: batch, model: model, optimizer: opt) {
            Tensor.crossEntropy(model(x), targets: y)
        }
    }

    static func load(_ model: Module, _ params: [String: Tensor]) throws {
        do { _ = try model.update(parameters: params, verify: .all) } catch {
            throw WorkloadError("the parameters do not fit the rebuilt model: \(error)")
        }
    }
}
