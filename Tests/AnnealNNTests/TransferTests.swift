// Transfer learning: pretrained loading through name mappings (strict and
// not), head replacement, discriminative learning rates, gradual unfreezing,
// the closed-form ridge probe on every backend, and cached frozen features.

import Anneal
import AnnealNN
import Foundation
import Testing
import _TestSupport

/// A backbone + head model whose parameters live under `backbone.` and `head.`.
final class TransferClassifier: Module, UnaryLayer {
    let backbone: Sequential
    let head: Linear
    init(backbone: Sequential, head: Linear) { self.backbone = backbone; self.head = head; super.init() }
    func callAsFunction(_ x: Tensor) -> Tensor { head(backbone(x).relu()) }
}

extension TransferLearningTests {
    @Suite struct TransferTests {
        @Test func nameMappingRewritesDropsAndDetectsClashes() throws {
            let t = Tensor.zeros([1])
            let checkpoint = ["bert.encoder.w": t, "bert.pooler.w": t, "cls.w": t]
            let mapping = NameMapping.prefix("bert.", with: "").then(.dropping(["pooler.*", "cls.*"]))
            #expect(try mapping.apply(to: checkpoint).keys.sorted() == ["encoder.w"])
            #expect(try NameMapping.prefix("", with: "backbone.").apply(to: ["0.weight": t]).keys.sorted() == ["backbone.0.weight"])
            let clash = NameMapping { $0.hasSuffix(".gamma") ? String($0.dropLast(6)) + ".weight" : $0 }
            #expect(throws: NameMappingError.self) { try clash.apply(to: ["ln.gamma": t, "ln.weight": t]) }
        }

        /// A plain MLP checkpoint loads into `backbone.*` of a classifier with a new
        /// head of another size: strict mode lists what does not fit, `keep` spares the head.
        @Test func loadPretrainedWithMappingAndNewHead() throws {
            GlobalRandom.seed(21)
            let pretrained = Sequential.mlp([6, 8, 8, 3])
            let checkpoint = pretrained.stateDict()
            let model = TransferClassifier(backbone: Sequential.mlp([6, 8, 8]), head: Linear(8, 5))
            let head0 = model.head.weight.value.scalars
            let toBackbone = NameMapping.prefix("", with: "backbone.")
            do {
                try model.loadPretrained(checkpoint, mapping: toBackbone)
                Issue.record("strict load of a checkpoint with another head must fail")
            } catch let e as ModuleLoadError {
                #expect(e.missing == ["head.weight", "head.bias"] && e.unexpected == ["backbone.4.bias", "backbone.4.weight"])
            }
            let report = try model.loadPretrained(checkpoint, mapping: toBackbone.then(.dropping(["backbone.4.*"])), keep: ["head.*"])
            #expect(report.loaded.sorted() == ["backbone.0.bias", "backbone.0.weight", "backbone.2.bias", "backbone.2.weight"])
            #expect(model.backbone.stateDict()["2.weight"]!.scalars == checkpoint["2.weight"]!.scalars)
            #expect(model.head.weight.value.scalars == head0, "kept parameters are not overwritten")
            // Non-strict: loads what fits and reports the rest; shapes must still match.
            let loose = try model.loadPretrained(checkpoint, mapping: toBackbone, verify: .none)
            #expect(loose.unexpected == ["backbone.4.bias", "backbone.4.weight"] && loose.missing == ["head.weight", "head.bias"])
            var bad = checkpoint
            bad["0.weight"] = Tensor.zeros([8, 7])
            #expect(throws: ModuleLoadError.self) { try model.loadPretrained(bad, mapping: toBackbone, verify: .none) }
        }

        @Test func replacingHeadSharesTheBackbone() {
            let model = Sequential.mlp([6, 8, 8, 3])
            let fresh = model.replacingHead(outputFeatures: 7)
            #expect(fresh.namedParameters().map(\.0) == model.namedParameters().map(\.0))
            #expect((fresh.layers.last as! Linear).weight.shape == [7, 8])
            let old = Dictionary(uniqueKeysWithValues: model.namedParameters()), new = Dictionary(uniqueKeysWithValues: fresh.namedParameters())
            #expect(old["0.weight"]! === new["0.weight"]! && old["2.bias"]! === new["2.bias"]!)
            #expect(old["4.weight"]! !== new["4.weight"]!)
            #expect(fresh(Tensor.ones([2, 6])).shape == [2, 7])
            #expect(fresh.prefix(3).namedParameters().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        }

        @Test func discriminativeGroupsScaleByDepth() {
            let gpt = GPT(GPTConfig(vocabularySize: 11, contextLength: 8, dimensions: 16, layerCount: 3, headCount: 2))
            let groups = gpt.discriminativeGroups(levels: ["tok.*", "blocks.0.*", "blocks.1.*", "blocks.2.*"],
                                                  learningRate: 1e-3, decay: 0.5)
            #expect(groups.map(\.name) == ["tok.*", "blocks.0.*", "blocks.1.*", "blocks.2.*", "rest"])
            let rates = groups.map(\.learningRate)
            #expect(zip(rates, [1.25e-4, 2.5e-4, 5e-4, 1e-3, 1e-3] as [Float]).allSatisfy { abs($0 - $1) < 1e-9 })
            #expect(groups[1].parameters.count == 12)
            #expect(Set(groups.last!.parameters.map(\.0)) == ["pos.weight", "lnf.weight", "lnf.bias", "head.weight"])
            #expect(groups.reduce(0) { $0 + $1.parameters.count } == gpt.namedParameters().count)
        }

        @Test func gradualUnfreezingOneBlockPerInterval() {
            let gpt = GPT(GPTConfig(vocabularySize: 11, contextLength: 8, dimensions: 16, layerCount: 3, headCount: 2))
            let schedule = GradualUnfreezing(model: gpt, blocksFromTop: ["blocks.2.*", "blocks.1.*", "blocks.0.*"], interval: 10)
            func trainableBlocks() -> Set<String> {
                Set(gpt.trainableParameters().compactMap { $0.0.hasPrefix("blocks.") ? String($0.0.prefix(8)) : nil })
            }
            #expect(trainableBlocks().isEmpty && gpt.trainableParameters().contains { $0.0 == "head.weight" })
            #expect(schedule.update(step: 9).isEmpty)
            #expect(schedule.update(step: 10).count == 12 && trainableBlocks() == ["blocks.2"])
            schedule.update(step: 15)
            #expect(trainableBlocks() == ["blocks.2"])
            schedule.update(step: 35)
            #expect(trainableBlocks() == ["blocks.0", "blocks.1", "blocks.2"] && schedule.unfrozenCount == 3)
            #expect(schedule.update(step: 100).isEmpty)
        }

        /// The ridge head satisfies its normal equations (zero gradient of the
        /// objective) on every backend, and the backends agree.
        @Test func ridgeProbeSolvesNormalEquations() throws {
            let (n, f, c): (Int, Int, Int) = (120, 9, 4)
            let x = Tensor.randn([n, f], seed: 22) * 2 + 0.5
            let labels = (0..<n).map { ($0 * 7) % c }
            let lambda: Float = 3
            var heads: [Linear] = []
            for b in BackendCase.all {
                let head = try b.run { try RidgeProbe.fit(features: x, labels: labels, classCount: c, lambda: lambda) }
                heads.append(head)
                // Gradient of ‖XW + b − Y‖² + λ‖W‖²: Xᵀ R + λW and 1ᵀR, R = XW + b − Y (W = weightᵀ).
                let residual = Runtime.withNoGrad { head(x) }.scalars.enumerated().map { i, v in Double(v) - (labels[i / c] == i % c ? 1 : 0) }
                let w = head.weight.value.scalars
                var worst = 0.0
                for j in 0..<c {
                    worst = max(worst, abs((0..<n).reduce(0.0) { $0 + residual[$1 * c + j] }))
                    for k in 0..<f {
                        let g = (0..<n).reduce(0.0) { $0 + Double(x.scalars[$1 * f + k]) * residual[$1 * c + j] } + Double(lambda * w[j * f + k])
                        worst = max(worst, abs(g))
                    }
                }
                #expect(worst < 2e-3, "\(b): normal-equation residual \(worst)")
            }
            for h in heads.dropFirst() {
                #expect(closeness(h.weight.value, heads[0].weight.value, rtol: 1e-3, atol: 1e-4) <= 0)
                #expect(closeness(h.bias!.value, heads[0].bias!.value, rtol: 1e-3, atol: 1e-4) <= 0)
            }
        }

        /// Linearly separable classes: the probe classifies every training row.
        @Test(arguments: BackendCase.all)
        func ridgeProbeSeparatesClusters(_ b: BackendCase) throws {
            var rng = RandomGenerator(seed: 23)
            let c = 3, f = 5, n = 90
            let labels = (0..<n).map { $0 % c }
            var values: [Float] = []
            for label in labels { for k in 0..<f { values.append((k == label ? 4 : 0) + rng.nextFloat() - 0.5) } }
            let x = Tensor(shape: [n, f], values)
            let head = try b.run { try RidgeProbe.fit(features: x, labels: labels, classCount: c, lambda: 0.1) }
            #expect(b.run { Runtime.withNoGrad { head(x) } }.argmax(axis: -1) == labels)
        }

        /// Training a head on cached features equals training it behind the frozen
        /// backbone, step for step; caching refuses a trainable backbone.
        @Test func cachedFeaturesTrainTheSameHead() throws {
            GlobalRandom.seed(24)
            let backbone = Sequential.mlp([8, 16, 12])
            let x = Tensor.randn([20, 8], seed: 25)
            let targets = (0..<20).map { $0 % 3 }
            #expect(throws: FrozenFeaturesError.self) { try FrozenFeatures.requireFrozen(backbone) }
            backbone.freeze()
            try FrozenFeatures.requireFrozen(backbone)
            let headA = Linear(12, 3), headB = Linear(12, 3)
            try headB.update(parameters: headA.stateDict())
            let full = Sequential([backbone, headA])
            plainSGDSteps(full, steps: 4, learningRate: 0.2) { Tensor.crossEntropy(full(x), targets: targets) }
            let features = FrozenFeatures.compute(backbone, x: x, batchSize: 7)
            #expect(features.shape == [20, 12] && !features.requiresGrad)
            plainSGDSteps(headB, steps: 4, learningRate: 0.2) { Tensor.crossEntropy(headB(features), targets: targets) }
            #expect(closeness(headA.weight.value, headB.weight.value, rtol: 1e-5, atol: 1e-6) <= 0)
            #expect(closeness(headA.bias!.value, headB.bias!.value, rtol: 1e-5, atol: 1e-6) <= 0)
        }
    }
}
