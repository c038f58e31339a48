// Frozen parameters under real optimizers: bit-identical after steps (with
// momentum and weight decay), no optimizer state; discriminative learning-rate
// groups and gradual unfreezing driving one optimizer.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct FrozenOptimizerTests {
    static func makeOptimizer(_ kind: String, _ parameters: [(String, Parameter)]) -> Optimizer {
        kind == "sgd" ? SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
                      : AdamW(parameters: parameters, learningRate: 0.01, weightDecay: 0.1)
    }

    /// The optimizer is given every parameter (frozen ones included, as with
    /// gradual unfreezing) or only the trainable ones: either way the frozen
    /// weights do not move by a single bit and get no state.
    @Test(arguments: ["sgd", "adamw"], [false, true])
    func frozenWeightsStayBitIdentical(_ kind: String, _ allParameters: Bool) {
        GlobalRandom.seed(31)
        let model = Sequential.mlp([12, 16, 16, 3])
        model.freeze(["0.*", "2.*"])
        let before = model.stateDict()
        let opt = Self.makeOptimizer(kind, allParameters ? model.namedParameters() : model.trainableParameters())
        let x = Tensor.randn([10, 12], seed: 32)
        for _ in 0..<3 {
            opt.zeroGrad()
            Tensor.crossEntropy(model(x), targets: (0..<10).map { $0 % 3 }).backward()
            opt.step()
        }
        let after = model.stateDict()
        for name in ["0.weight", "0.bias", "2.weight", "2.bias"] {
            #expect(after[name]!.scalars == before[name]!.scalars, "\(kind): frozen \(name) moved")
            #expect(!opt.stateDict().keys.contains { $0.hasPrefix(name + ".") }, "\(kind): state for frozen \(name)")
        }
        #expect(after["4.weight"]!.scalars != before["4.weight"]!.scalars)
        let stateFor4 = opt.stateDict().keys.filter { $0.hasPrefix("4.") }
        #expect(stateFor4.count == (kind == "sgd" ? 2 : 6))   // Adam: exp_avg, exp_avg_sq, step per tensor
    }

    /// Discriminative groups become parameter groups; under gradual unfreezing a
    /// block gets updates (and state) only from the step it is unfrozen.
    @Test func gradualUnfreezingWithDiscriminativeRates() {
        GlobalRandom.seed(33)
        let model = Sequential.mlp([6, 8, 8, 8, 2])
        let groups = model.discriminativeGroups(levels: ["0.*", "2.*", "4.*"], learningRate: 0.1, decay: 0.5)
        let opt = SGD(groups.map { ParameterGroup($0.parameters, learningRate: $0.learningRate) }, momentum: 0.9)
        #expect(opt.groups.map(\.learningRate) == [0.025, 0.05, 0.1, 0.1])
        let schedule = GradualUnfreezing(model: model, blocksFromTop: ["4.*", "2.*", "0.*"], interval: 2)
        let x = Tensor.randn([8, 6], seed: 34)
        var firstMoved: [String: Int] = [:]
        var last = model.stateDict()
        for step in 0..<8 {
            schedule.update(step: step)
            opt.zeroGrad()
            Tensor.crossEntropy(model(x), targets: (0..<8).map { $0 % 2 }).backward()
            opt.step()
            let now = model.stateDict()
            for (name, t) in now where firstMoved[name] == nil && t.scalars != last[name]!.scalars { firstMoved[name] = step }
            last = now
        }
        #expect(firstMoved["6.weight"] == 0 && firstMoved["4.weight"] == 2 && firstMoved["2.weight"] == 4 && firstMoved["0.weight"] == 6)
        #expect(opt.stateDict().keys.contains("0.weight.momentum_buffer"))
    }

    /// Adam counts steps per parameter (as torch.optim does): a layer unfrozen
    /// after two steps takes exactly the update a fresh AdamW gives it (bias
    /// corrections with t = 1, 2, …), not one corrected with the global count.
    @Test func lateUnfrozenParameterStartsItsOwnStepCount() {
        GlobalRandom.seed(35)
        let model = Sequential.mlp([5, 6, 3])
        let x = Tensor.randn([7, 5], seed: 36), targets = (0..<7).map { $0 % 3 }
        let loss = { Tensor.crossEntropy(model(x), targets: targets) }
        _ = model.freeze(["0.*"])
        let shared = AdamW(parameters: model.namedParameters(), learningRate: 0.05)
        for _ in 0..<2 { shared.zeroGrad(); loss().backward(); shared.step() }
        _ = model.unfreeze(["0.*"])
        #expect(shared.stateDict()["2.weight.step"]?.scalars == [2] && shared.stateDict()["0.weight.step"] == nil)
        // From here the same model state goes two ways: the shared optimizer, and a fresh one for layer 0.
        let start = model.stateDict()
        shared.zeroGrad(); loss().backward(); shared.step()
        let viaShared = model.stateDict()["0.weight"]!.scalars
        #expect(shared.stateDict()["0.weight.step"]?.scalars == [1] && shared.stateDict()["2.weight.step"]?.scalars == [3])
        _ = try! model.update(parameters: start)
        let fresh = AdamW(parameters: model.namedParameters().filter { $0.0.hasPrefix("0.") }, learningRate: 0.05)
        fresh.zeroGrad(); loss().backward(); fresh.step()
        #expect(viaShared == model.stateDict()["0.weight"]!.scalars)
    }
}
