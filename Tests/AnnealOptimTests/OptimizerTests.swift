// Optimizer trajectories against torch.optim (fixture made once with
// scripts/make_optim_fixture.py), clipping and schedules.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation
import Testing
import _TestSupport

struct TrajectoryFixture: Decodable {
    struct T: Decodable { let shape: [Int]; let data: [Double]; var tensor: Tensor { Tensor(shape: shape, data.map(Float.init)) } }
    struct Step: Decodable { let loss: Double; let lr: Double; let weight: T; let bias: T }
    struct Config: Decodable {
        let optimizer: String
        let hyper: [String: JSONValue]
        let init_: [String: T]
        let data: [String: T]
        let steps_f32: [Step]
        enum CodingKeys: String, CodingKey { case optimizer, hyper, init_ = "init", data, steps_f32 }
    }
    let configs: [String: Config]
}

enum JSONValue: Decodable {
    case number(Double), bool(Bool), string(String), numbers([Double]), other
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([Double].self) { self = .numbers(a) }
        else { self = .other }
    }
    var double: Double? { if case .number(let d) = self { d } else { nil } }
    var bool: Bool { if case .bool(let b) = self { b } else { false } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var doubles: [Double]? { if case .numbers(let a) = self { a } else { nil } }
}

@Suite struct OptimizerTests {
    static let fixture: TrajectoryFixture = {
        let data = try! Data(contentsOf: resourceURL(Bundle.module, "optim_trajectories.json"))
        return try! JSONDecoder().decode(TrajectoryFixture.self, from: data)
    }()

    @Test(arguments: fixture.configs.keys.sorted())
    func matchesTorchOptim(_ name: String) throws {
        let cfg = Self.fixture.configs[name]!
        let h = cfg.hyper
        func f(_ k: String, _ d: Float) -> Float { h[k]?.double.map(Float.init) ?? d }
        let layer = Linear(3, 2)
        layer.weight.assign(cfg.init_["weight"]!.tensor)
        layer.bias!.assign(cfg.init_["bias"]!.tensor)
        let params = layer.namedParameters()
        let lr = f("lr", 0.1)
        let opt: Optimizer
        switch cfg.optimizer {
        case "SGD":
            opt = SGD(parameters: params, learningRate: lr, momentum: f("momentum", 0), dampening: f("dampening", 0),
                      weightDecay: f("weight_decay", 0), nesterov: h["nesterov"]?.bool ?? false)
        case "Adam", "AdamW":
            let b = h["betas"]?.doubles ?? [0.9, 0.999]
            let betas = (Float(b[0]), Float(b[1]))
            opt = cfg.optimizer == "Adam"
                ? Adam(parameters: params, learningRate: lr, beta1: betas.0, beta2: betas.1, eps: f("eps", 1e-8),
                       weightDecay: f("weight_decay", 0), amsgrad: h["amsgrad"]?.bool ?? false)
                : AdamW(parameters: params, learningRate: lr, beta1: betas.0, beta2: betas.1, eps: f("eps", 1e-8),
                        weightDecay: f("weight_decay", 0.01), amsgrad: h["amsgrad"]?.bool ?? false)
        default:
            Issue.record("unknown optimizer \(cfg.optimizer)"); return
        }
        let schedule: LearningRateSchedule
        switch h["schedule"]?.string {
        case "warmup_cosine": schedule = .warmupCosine(peak: lr, warmup: 3, total: 10, minimum: 0)
        case "step_lr": schedule = .step(initial: lr, size: 2, gamma: 0.5)
        default: schedule = .constant(lr)
        }
        let x = cfg.data["X"]!.tensor, y = cfg.data["Y"]!.tensor
        for (k, want) in cfg.steps_f32.enumerated() {
            opt.zeroGrad()
            let loss = Tensor.mseLoss(layer(x), y)
            loss.backward()
            if let maxNorm = h["clip_grad_norm"]?.double { clipGradientNorm(params, maxNorm: Float(maxNorm)) }
            opt.setLearningRate(schedule.rate(at: k))
            #expect(abs(Double(schedule.rate(at: k)) - want.lr) <= 1e-7 + 1e-6 * abs(want.lr), "\(name) step \(k) lr")
            opt.step()
            #expect(abs(Double(loss.item()) - want.loss) <= 1e-6 + 1e-5 * abs(want.loss), "\(name) step \(k) loss")
            #expect(allClose(layer.weight.value, want.weight.tensor, rtol: 1e-5, atol: 1e-6), "\(name) step \(k) weight")
            #expect(allClose(layer.bias!.value, want.bias.tensor, rtol: 1e-5, atol: 1e-6), "\(name) step \(k) bias")
        }
    }

    @Test func optimizerStateRoundTrips() throws {
        let layer = Linear(3, 2)
        let opt = AdamW(parameters: layer.namedParameters(), learningRate: 0.1)
        Tensor.mseLoss(layer(Tensor.ones([4, 3])), Tensor.zeros([4, 2])).backward()
        opt.step()
        let state = opt.stateDict()
        #expect(Set(state.keys) == ["weight.exp_avg", "weight.exp_avg_sq", "weight.step", "bias.exp_avg", "bias.exp_avg_sq", "bias.step"])
        let other = AdamW(parameters: layer.namedParameters(), learningRate: 0.1)
        try other.loadStateDict(state)
        #expect(other.stateDict()["weight.exp_avg"]!.scalars == state["weight.exp_avg"]!.scalars)
        #expect(throws: OptimizerStateError.self) { try other.loadStateDict(["weight.exp_avg": Tensor.zeros([3])]) }
    }

    @Test func frozenParametersAreNotUpdated() {
        let mlp = Sequential.mlp([4, 8, 3])
        mlp.freeze(["0.*"])
        let before = mlp.stateDict()
        let opt = SGD(parameters: mlp.trainableParameters(), learningRate: 0.5)
        #expect(mlp.trainableParameters().map(\.0) == ["2.weight", "2.bias"])
        Tensor.crossEntropy(mlp(Tensor.randn([5, 4], seed: 1)), targets: [0, 1, 2, 0, 1]).backward()
        #expect(mlp.namedParameters().first { $0.0 == "0.weight" }!.1.grad == nil)
        opt.step()
        let after = mlp.stateDict()
        #expect(after["0.weight"]!.scalars == before["0.weight"]!.scalars)
        #expect(after["0.bias"]!.scalars == before["0.bias"]!.scalars)
        #expect(after["2.weight"]!.scalars != before["2.weight"]!.scalars)
    }

    @Test func schedules() {
        let cos = LearningRateSchedule.warmupCosine(peak: 1, warmup: 2, total: 6, minimum: 0.1)
        #expect(cos.rate(at: 0) == 0 && cos.rate(at: 1) == 0.5 && cos.rate(at: 2) == 1)
        #expect(abs(cos.rate(at: 6) - 0.1) < 1e-6)
        #expect(LearningRateSchedule.step(initial: 1, size: 3, gamma: 0.1).rate(at: 7) == Float(0.1) * Float(0.1))
    }
}
