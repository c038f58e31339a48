// Transfer-learning plumbing: loading a pretrained checkpoint through a name
// mapping, replacing a classification head, per-depth learning rates
// (discriminative fine-tuning), gradual unfreezing, and cached frozen features.

import Anneal
import Foundation

// MARK: - Name mapping and pretrained loading

/// Rewrites checkpoint names into model names before loading
/// (`bert.encoder.layer.0…` → `encoder.layer.0…`); a transform returning nil
/// drops that checkpoint entry.
public struct NameMapping: Sendable {
    /// checkpoint name → model name, or nil to drop the entry.
    public let transform: @Sendable (String) -> String?

    /// A mapping given by a closure.
    public init(_ transform: @escaping @Sendable (String) -> String?) { self.transform = transform }

    /// Every name unchanged.
    public static let identity = NameMapping { $0 }

    /// Replaces the leading `old` with `new` on names that start with it; other names pass unchanged
    /// (`.prefix("bert.", with: "")` strips a prefix, `.prefix("", with: "backbone.")` adds one).
    public static func prefix(_ old: String, with new: String) -> NameMapping {
        NameMapping { $0.hasPrefix(old) ? new + $0.dropFirst(old.count) : $0 }
    }

    /// Drops checkpoint entries whose name matches one of the globs (e.g. the old head `4.*`).
    public static func dropping(_ patterns: [String]) -> NameMapping {
        NameMapping { name in patterns.contains { Glob.matches($0, name) } ? nil : name }
    }

    /// This mapping followed by `next`.
    public func then(_ next: NameMapping) -> NameMapping {
        let first = transform, second = next.transform
        return NameMapping { first($0).flatMap(second) }
    }

    /// The checkpoint under model names. Throws when two entries map to one name.
    public func apply(to checkpoint: [String: Tensor]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:], source: [String: String] = [:]
        for name in checkpoint.keys.sorted() {
            guard let mapped = transform(name) else { continue }
            if let earlier = source[mapped] {
                throw NameMappingError(description: "checkpoint names '\(earlier)' and '\(name)' both map to '\(mapped)'")
            }
            source[mapped] = name
            out[mapped] = checkpoint[name]
        }
        return out
    }
}

/// A name mapping that sends two checkpoint entries to one parameter.
public struct NameMappingError: Error, CustomStringConvertible {
    /// Both checkpoint names and the model name they map to.
    public let description: String
}

extension Module {
    /// Loads a pretrained checkpoint: names go through `mapping`, then load as
    /// `update(parameters:verify:)`. Parameters matching a `keep` glob (a new
    /// head, adapters) are not expected from the checkpoint and keep their
    /// values; a checkpoint entry for them is unexpected. With `.all`, any
    /// other parameter missing from the checkpoint, or any checkpoint entry
    /// without a parameter, is an error; shape mismatches always are.
    /// `ModuleLoadError` lists every offending name (after mapping).
    @discardableResult
    public func loadPretrained(_ checkpoint: [String: Tensor], mapping: NameMapping = .identity,
                               keep: [String] = [], verify: Verify = .all) throws -> LoadReport {
        var mapped = try mapping.apply(to: checkpoint)
        let kept = namedParameters().filter { name, _ in keep.contains { Glob.matches($0, name) } }
        let clashes = kept.map(\.0).filter { mapped[$0] != nil }.sorted()
        if !clashes.isEmpty {
            if verify == .all { throw ModuleLoadError(missing: [], unexpected: clashes, shapeMismatches: []) }
            for name in clashes { mapped[name] = nil }
        }
        for (name, p) in kept { mapped[name] = p.value.detached() }
        var report = try update(parameters: mapped, verify: verify)
        let keptNames = Set(kept.map(\.0))
        report.loaded.removeAll { keptNames.contains($0) }
        report.unexpected += clashes
        return report
    }
}

// MARK: - Head replacement

extension Sequential {
    /// A Sequential with layer `index` replaced and every other layer shared
    /// (same objects, same parameters).
    public func replacing(at index: Int, with layer: any UnaryLayer) -> Sequential {
        require(layers.indices.contains(index), "Sequential has \(layers.count) layers; no layer \(index) to replace")
        var list = layers
        list[index] = layer
        return Sequential(list)
    }

    /// The same network with a fresh output head: the last layer, a
    /// Linear(in, out), becomes Linear(in, `outputFeatures`) initialised as
    /// `Linear.init` (from `GlobalRandom`); the layers below are shared.
    public func replacingHead(outputFeatures: Int) -> Sequential {
        guard let head = layers.last as? Linear else {
            fatalError("replacingHead: the last layer of this Sequential is not a Linear")
        }
        return replacing(at: layers.count - 1, with: Linear(head.inputFeatures, outputFeatures, bias: head.bias != nil))
    }

    /// Layers `0..<count` as a Sequential sharing them (a backbone without its head).
    public func prefix(_ count: Int) -> Sequential {
        require(count >= 0 && count <= layers.count, "Sequential has \(layers.count) layers, cannot take \(count)")
        return Sequential(Array(layers.prefix(count)))
    }
}

// MARK: - Discriminative fine-tuning

/// A set of parameters trained with one learning rate (convert to an
/// optimizer's parameter group: `ParameterGroup(g.parameters, learningRate: g.learningRate)`).
public struct LearningRateGroup {
    /// The depth pattern these parameters matched ("rest" for the unmatched).
    public var name: String
    /// (name, parameter) pairs, each parameter once.
    public var parameters: [(String, Parameter)]
    /// η for this group.
    public var learningRate: Float
}

extension Module {
    /// Discriminative fine-tuning (ULMFiT): parameters grouped by depth, each
    /// level a glob in `levels`, listed from the bottom (input side) to the
    /// top; level i of L gets η·decayᴸ⁻¹⁻ⁱ, so the top level trains at η and
    /// each lower one `decay` times slower. Parameters matching no level (the
    /// head) get η. Frozen parameters are included (an optimizer skips them
    /// while they have no gradient, so gradual unfreezing can use the same
    /// groups); empty groups are dropped.
    public func discriminativeGroups(levels: [String], learningRate: Float, decay: Float) -> [LearningRateGroup] {
        var seen = Set<ObjectIdentifier>()
        var groups = levels.enumerated().map { i, pattern in
            LearningRateGroup(name: pattern, parameters: [],
                              learningRate: learningRate * Foundation.pow(decay, Float(levels.count - 1 - i)))
        }
        var rest = LearningRateGroup(name: "rest", parameters: [], learningRate: learningRate)
        for (name, p) in namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            if let i = levels.firstIndex(where: { Glob.matches($0, name) }) { groups[i].parameters.append((name, p)) }
            else { rest.parameters.append((name, p)) }
        }
        return (groups + [rest]).filter { !$0.parameters.isEmpty }
    }
}

// MARK: - Gradual unfreezing

/// Gradual unfreezing (ULMFiT): every block starts frozen; after each
/// `interval` steps one more block is unfrozen, from the top down.
///
/// Call `update(step:)` before each optimizer step; the optimizer must hold
/// every parameter from the start (frozen ones are skipped while they have
/// no gradient), e.g. through `discriminativeGroups`.
public final class GradualUnfreezing {
    /// The model whose parameters are frozen and unfrozen.
    public let model: Module
    /// Parameter globs, one per block, from the top (first unfrozen) down.
    public let blocks: [String]
    /// Steps between two unfreezings.
    public let interval: Int
    /// Blocks unfrozen so far.
    public private(set) var unfrozenCount = 0

    /// Freezes every block's parameters now.
    public init(model: Module, blocksFromTop blocks: [String], interval: Int) {
        require(interval >= 1, "gradual unfreezing interval must be at least 1 step, got \(interval)")
        self.model = model; self.blocks = blocks; self.interval = interval
        model.freeze(blocks)
    }

    /// Unfreezes min(⌊step / interval⌋, blocks) blocks in total by `step`
    /// (0-based). Returns the parameter names unfrozen by this call.
    @discardableResult
    public func update(step: Int) -> [String] {
        let target = Swift.min(step / interval, blocks.count)
        var names: [String] = []
        while unfrozenCount < target {
            names += model.unfreeze([blocks[unfrozenCount]])
            unfrozenCount += 1
        }
        return names
    }
}

// MARK: - Cached frozen features

/// Features of a frozen network, computed once.
public enum FrozenFeatures {
    /// backbone(x) for x [N, F] in evaluation mode and without a graph, in
    /// batches of `batchSize` rows: [N, D]. Training a head on these equals
    /// training it behind the frozen backbone when the backbone is frozen and
    /// deterministic in training mode (no dropout), the case `requireFrozen` checks.
    public static func compute(_ backbone: some UnaryLayer, x: Tensor, batchSize: Int = 1024) -> Tensor {
        require(x.rank == 2, "FrozenFeatures.compute: input must be [N, F], got \(x.shape)")
        let wasTraining = backbone.isTraining
        backbone.eval()
        defer { backbone.train(wasTraining) }
        return Runtime.withNoGrad {
            let parts = stride(from: 0, to: x.shape[0], by: batchSize).map { start in
                backbone(x.slice(axis: 0, start..<Swift.min(start + batchSize, x.shape[0])))
            }
            return Tensor.concat(parts, axis: 0)
        }
    }

    /// Throws unless every parameter of `backbone` is frozen (features
    /// cached from a trainable backbone would go stale after one step).
    public static func requireFrozen(_ backbone: Module) throws {
        let trainable = backbone.trainableParameters().map(\.0)
        guard trainable.isEmpty else {
            throw FrozenFeaturesError(description: "cannot cache features: the backbone has trainable parameters (\(trainable.prefix(8).joined(separator: ", "))\(trainable.count > 8 ? ", …" : ""))")
        }
    }
}

/// Feature caching requested for a backbone that is not frozen.
public struct FrozenFeaturesError: Error, CustomStringConvertible {
    /// The trainable parameters found.
    public let description: String
}
