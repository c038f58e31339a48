// Optimizers with torch.optim's update rules and defaults: SGD (momentum,
// dampening, Nesterov, weight decay), Adam and AdamW (optional AMSGrad).
// Updates run in place on each parameter's buffer, outside autograd.

import Anneal
import AnnealNN
import Foundation

/// Parameters sharing one learning rate (and weight decay), as torch's param groups.
public struct ParameterGroup {
    public var parameters: [(String, Parameter)]
    public var learningRate: Float
    public var weightDecay: Float?

    public init(_ parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float? = nil) {
        self.parameters = parameters; self.learningRate = learningRate; self.weightDecay = weightDecay
    }
}

/// The interface every optimizer has.
public protocol Optimizer: AnyObject {
    /// Parameter groups; each group's `learningRate` is what the next step uses.
    var groups: [ParameterGroup] { get set }
    /// Steps taken so far.
    var stepCount: Int { get set }
    /// Applies one update from the parameters' current gradients (parameters without a gradient are skipped).
    func step()
    /// Per-parameter state tensors by "name.slot" (e.g. "0.weight.exp_avg"), for checkpoints.
    func stateDict() -> [String: Tensor]
    /// Restores `stateDict()` output; throws naming any missing or misshaped entry.
    func loadStateDict(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Sets every group's learning rate (a schedule's value for this step).
    public func setLearningRate(_ lr: Float) { for i in groups.indices { groups[i].learningRate = lr } }

    /// Clears the gradients of every parameter this optimizer updates.
    public func zeroGrad() { for g in groups { for (_, p) in g.parameters { p.grad = nil } } }
}

/// A named slot of per-parameter state (momentum buffer, Adam moments).
final class SlotStore {
    var slots: [String: Tensor] = [:]

    func get(_ key: String, like p: Parameter) -> Tensor { slots[key] ?? Tensor.zeros(p.shape) }

    func load(_ state: [String: Tensor], expected: [(String, [Int])]) throws {
        var problems: [String] = []
        var next: [String: Tensor] = [:]
        for (key, shape) in expected {
            guard let t = state[key] else { continue }   // state created lazily; absent = not yet stepped
            if t.shape != shape { problems.append("\(key): \(t.shape) vs \(shape)") } else { next[key] = t }
        }
        if !problems.isEmpty { throw OptimizerStateError(problems: problems) }
        slots = next
    }
}

/// Optimizer state that does not fit the parameters.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "optimizer state does not fit: " + problems.joined(separator: "; ") }
}

/// Stochastic gradient descent as `torch.optim.SGD`:
/// g ← g + λθ; b ← μb + (1 − τ)g (b = g on the first step); g ← g + μb (Nesterov) or b; θ ← θ − ηg.
public final class SGD: Optimizer {
    public var groups: [ParameterGroup]
    public var stepCount = 0
    public let momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
    let store = SlotStore()

    public init(_ groups: [ParameterGroup], momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        require(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum requires a momentum and zero dampening")
        self.groups = groups; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov
    }

    public convenience init(parameters: [(String, Parameter)], learningRate: Float, momentum: Float = 0,
                            dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.init([ParameterGroup(parameters, learningRate: learningRate)], momentum: momentum, dampening: dampening,
                  weightDecay: weightDecay, nesterov: nesterov)
    }

    public func step() {
        for group in groups {
            let lr = group.learningRate, wd = group.weightDecay ?? weightDecay
            for (name, p) in group.parameters {
                guard let grad = p.grad else { continue }
                if momentum == 0 {
                    grad.withUnsafeBufferPointer { g in
                        p.withMutableValues { w in
                            for i in 0..<w.count { w[i] -= lr * (g[i] + wd * w[i]) }
                        }
                    }
                    continue
                }
                let key = "\(name).momentum_buffer"
                let first = store.slots[key] == nil
                var buf = store.get(key, like: p)
                store.slots[key] = nil
                let (mu, damp, nest) = (momentum, dampening, nesterov)
                grad.withUnsafeBufferPointer { g in
                    buf.withUnsafeMutableBufferPointer { b in
                        p.withMutableValues { w in
                            for i in 0..<w.count {
                                let d = g[i] + wd * w[i]
                                b[i] = first ? d : mu * b[i] + (1 - damp) * d
                                w[i] -= lr * (nest ? d + mu * b[i] : b[i])
                            }
                        }
                    }
                }
                store.slots[key] = buf
            }
        }
        stepCount += 1
    }

    public func stateDict() -> [String: Tensor] { store.slots }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        try store.load(state, expected: groups.flatMap { $0.parameters.map { ("\($0.0).momentum_buffer", $0.1.shape) } })
    }
}

/// Adam (`torch.optim.Adam`, L2 weight decay added to the gradient) or, with
/// `decoupled`, AdamW (θ ← θ(1 − ηλ) before the update):
/// m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; θ ← θ − η·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε).
/// With AMSGrad, v is replaced by its running maximum.
public final class Adam: Optimizer {
    public var groups: [ParameterGroup]
    public var stepCount = 0
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float, amsgrad: Bool, decoupled: Bool
    let store = SlotStore()

    public init(_ groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, amsgrad: Bool = false, decoupled: Bool = false) {
        self.groups = groups; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.amsgrad = amsgrad; self.decoupled = decoupled
    }

    public convenience init(parameters: [(String, Parameter)], learningRate: Float = 1e-3, beta1: Float = 0.9,
                            beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false) {
        self.init([ParameterGroup(parameters, learningRate: learningRate)], beta1: beta1, beta2: beta2, eps: eps,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// Each parameter counts its own steps for the bias corrections (as
    /// torch.optim keeps `state[p]["step"]`), so a parameter unfrozen late
    /// starts with t = 1 like a fresh optimizer would. The count is saved as
    /// the slot "name.step"; a state without it (older checkpoints) continues
    /// from the global count.
    public func step() {
        stepCount += 1
        for group in groups {
            let lr = group.learningRate, wd = group.weightDecay ?? weightDecay
            for (name, p) in group.parameters {
                guard let grad = p.grad else { continue }
                let t: Int
                if let saved = store.slots["\(name).step"] { t = Int(saved.item()) + 1 }
                else if store.slots["\(name).exp_avg"] != nil { t = stepCount }
                else { t = 1 }
                store.slots["\(name).step"] = Tensor([Float(t)])
                let bc1 = 1 - Foundation.pow(beta1, Float(t)), bc2 = 1 - Foundation.pow(beta2, Float(t))
                let bc2Sqrt = bc2.squareRoot(), stepSize = lr / bc1
                var m = store.get("\(name).exp_avg", like: p), v = store.get("\(name).exp_avg_sq", like: p)
                var vmax = amsgrad ? store.get("\(name).max_exp_avg_sq", like: p) : Tensor.zeros([0])
                store.slots["\(name).exp_avg"] = nil; store.slots["\(name).exp_avg_sq"] = nil
                store.slots["\(name).max_exp_avg_sq"] = nil
                let (b1, b2, eps, ams, decoupled) = (beta1, beta2, self.eps, amsgrad, self.decoupled)
                grad.withUnsafeBufferPointer { g in
                    m.withUnsafeMutableBufferPointer { m in
                        v.withUnsafeMutableBufferPointer { v in
                            vmax.withUnsafeMutableBufferPointer { vm in
                                p.withMutableValues { w in
                                    Self.update(w: w.baseAddress!, g: g.baseAddress!, m: m.baseAddress!, v: v.baseAddress!,
                                                vmax: ams ? vm.baseAddress! : nil, count: w.count,
                                                constants: .init(lr: lr, wd: wd, b1: b1, b2: b2, eps: eps, stepSize: stepSize,
                                                                 bc2Sqrt: bc2Sqrt, decoupled: decoupled))
                                }
                            }
                        }
                    }
                }
                store.slots["\(name).exp_avg"] = m
                store.slots["\(name).exp_avg_sq"] = v
                if amsgrad { store.slots["\(name).max_exp_avg_sq"] = vmax }
            }
        }
    }

    struct Constants { let lr, wd, b1, b2, eps, stepSize, bc2Sqrt: Float; let decoupled: Bool }

    /// One Adam step over a parameter buffer, as torch.optim.Adam(W):
    /// g ← g + λw (Adam) or w ← w(1 − lr·λ) (AdamW); m ← β₁m + (1 − β₁)g;
    /// v ← β₂v + (1 − β₂)g²; v̂ = max(v̂, v) with AMSGrad;
    /// w ← w − (lr/(1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε).
    /// Eight lanes at a time (the same operations, in the same order, as the
    /// scalar tail, so every element rounds identically).
    static func update(w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                       v: UnsafeMutablePointer<Float>, vmax: UnsafeMutablePointer<Float>?, count: Int, constants c: Constants) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ x: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
            UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: V.self)
        }
        let decay = 1 - c.lr * c.wd, oneMinusB1 = 1 - c.b1, oneMinusB2 = 1 - c.b2
        var i = 0
        if vmax == nil {
            while i + 8 <= count {
                var gi = load(g, i), wi = load(w, i)
                if c.decoupled { wi *= decay } else { gi += c.wd * wi }
                let mi = c.b1 * load(m, i) + oneMinusB1 * gi
                let vi = c.b2 * load(v, i) + oneMinusB2 * gi * gi
                wi -= c.stepSize * mi / (vi.squareRoot() / c.bc2Sqrt + c.eps)
                store(mi, m, i); store(vi, v, i); store(wi, w, i)
                i += 8
            }
        }
        for i in i..<count {
            var gi = g[i]
            if c.decoupled { w[i] *= decay } else { gi += c.wd * w[i] }
            m[i] = c.b1 * m[i] + oneMinusB1 * gi
            v[i] = c.b2 * v[i] + oneMinusB2 * gi * gi
            var vi = v[i]
            if let vmax { vmax[i] = Swift.max(vmax[i], v[i]); vi = vmax[i] }
            w[i] -= c.stepSize * m[i] / (vi.squareRoot() / c.bc2Sqrt + c.eps)
        }
    }

    public func stateDict() -> [String: Tensor] { store.slots }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        var expected: [(String, [Int])] = []
        for g in groups { for (name, p) in g.parameters {
            expected += [("\(name).exp_avg", p.shape), ("\(name).exp_avg_sq", p.shape), ("\(name).step", [1])]
            if amsgrad { expected.append(("\(name).max_exp_avg_sq", p.shape)) }
        } }
        try store.load(state, expected: expected)
    }
}

/// AdamW as `torch.optim.AdamW` (decoupled weight decay, default λ = 0.01).
public func AdamW(parameters: [(String, Parameter)], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                  eps: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) -> Adam {
    Adam([ParameterGroup(parameters, learningRate: learningRate)], beta1: beta1, beta2: beta2, eps: eps,
         weightDecay: weightDecay, amsgrad: amsgrad, decoupled: true)
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (as
/// `torch.nn.utils.clip_grad_norm_`: factor maxNorm/(norm + 1e-6), capped at 1).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [(String, Parameter)], maxNorm: Float) -> Float {
    var total: Double = 0
    for (_, p) in parameters { if let g = p.grad { g.withUnsafeBufferPointer { for v in $0 { total += Double(v) * Double(v) } } } }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for (_, p) in parameters {
            guard var g = p.grad else { continue }
            p.grad = nil
            g.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= coef } }
            p.grad = g
        }
    }
    return norm
}
