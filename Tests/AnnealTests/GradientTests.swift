// Finite-difference checks of every differentiable primitive, on every backend.

import Anneal
import Testing
import _TestSupport

@Suite struct GradientTests {
    static func r(_ shape: [Int], _ seed: UInt64, scale: Float = 1) -> Tensor { Tensor.randn(shape, seed: seed) * scale }
    static func pos(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.uniform(shape, seed: seed) + 0.5 }

    /// Values at least 0.1 away from the kinks of relu, abs and clamp(±0.5).
    static let awayFromKinks = Tensor(shape: [3, 4], [-1.2, -0.7, -0.3, -0.15, 0.15, 0.3, 0.7, 1.2, 2, -2, 0.4, -0.4])

    @Test(arguments: BackendCase.all)
    func unaryOps(_ b: BackendCase) {
        let ops: [(String, (Tensor) -> Tensor, Tensor)] = [
            ("neg", { -$0 }, Self.r([3, 4], 1)), ("exp", { $0.exp() }, Self.r([3, 4], 2)),
            ("log", { $0.log() }, Self.pos([3, 4], 3)), ("sqrt", { $0.sqrt() }, Self.pos([3, 4], 4)),
            ("tanh", { $0.tanh() }, Self.r([3, 4], 5)), ("sigmoid", { $0.sigmoid() }, Self.r([3, 4], 6)),
            ("relu", { $0.relu() }, Self.awayFromKinks), ("logsigmoid", { $0.logSigmoid() }, Self.r([3, 4], 8)),
            ("silu", { $0.silu() }, Self.r([3, 4], 9)), ("gelu", { $0.gelu() }, Self.r([3, 4], 10)),
            ("gelu_tanh", { $0.gelu(approximate: true) }, Self.r([3, 4], 11)),
            ("pow3", { $0.pow(3) }, Self.r([3, 4], 12)), ("pow-0.5", { $0.pow(-0.5) }, Self.pos([3, 4], 13)),
            ("abs", { $0.abs() }, Self.awayFromKinks), ("clamp", { $0.clamped(min: -0.5, max: 0.5) }, Self.awayFromKinks),
            ("scalar", { 2 - $0 * 3 + 1 }, Self.r([3, 4], 16)), ("rdiv", { 1 / $0 }, Self.pos([3, 4], 17)),
        ]
        b.run {
            for (name, f, x) in ops {
                #expect(gradientCheck([x]) { f($0[0]) } == nil, "\(b) \(name)")
            }
        }
    }

    @Test(arguments: BackendCase.all)
    func binaryBroadcasting(_ b: BackendCase) {
        let shapes: [([Int], [Int])] = [([3, 4], [3, 4]), ([3, 4], [4]), ([2, 3, 4], [3, 1]), ([1, 4], [3, 1]), ([3, 4], [])]
        b.run {
            for (sa, sb) in shapes {
                let a = Self.r(sa, 1), c = Self.pos(sb, 2)
                #expect(gradientCheck([a, c]) { $0[0] + $0[1] } == nil, "\(b) add \(sa) \(sb)")
                #expect(gradientCheck([a, c]) { $0[0] - $0[1] } == nil, "\(b) sub \(sa) \(sb)")
                #expect(gradientCheck([a, c]) { $0[0] * $0[1] } == nil, "\(b) mul \(sa) \(sb)")
                #expect(gradientCheck([a, c]) { $0[0] / $0[1] } == nil, "\(b) div \(sa) \(sb)")
                #expect(gradientCheck([a, c]) { Tensor.maximum($0[0], $0[1]) } == nil, "\(b) maximum \(sa) \(sb)")
            }
        }
    }

    @Test(arguments: BackendCase.all)
    func matmulForms(_ b: BackendCase) {
        b.run {
            #expect(gradientCheck([Self.r([3, 5], 1), Self.r([5, 4], 2)]) { Tensor.matmul($0[0], $0[1]) } == nil)
            for (ta, tb) in [(false, true), (true, false), (true, true)] {
                let a = ta ? Self.r([5, 3], 1) : Self.r([3, 5], 1), c = tb ? Self.r([4, 5], 2) : Self.r([5, 4], 2)
                #expect(gradientCheck([a, c]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) } == nil,
                        "\(b) transposeA \(ta) transposeB \(tb)")
            }
            #expect(gradientCheck([Self.r([2, 3, 5], 1), Self.r([2, 5, 4], 2)]) { Tensor.matmul($0[0], $0[1]) } == nil)
            #expect(gradientCheck([Self.r([2, 3, 5], 1), Self.r([5, 4], 2)]) { Tensor.matmul($0[0], $0[1]) } == nil)
            #expect(gradientCheck([Self.r([3, 5], 1), Self.r([2, 5, 4], 2)]) { Tensor.matmul($0[0], $0[1]) } == nil)
            #expect(gradientCheck([Self.r([2, 5, 3], 1), Self.r([4, 5], 2)]) {
                Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true) } == nil)
            #expect(gradientCheck([Self.r([2, 3, 5], 1), Self.r([4, 5], 2), Self.r([4], 3)]) {
                Tensor.linear($0[0], weight: $0[1], bias: $0[2]) } == nil)
            #expect(gradientCheck([Self.r([3, 5], 1), Self.r([4, 5], 2)]) { Tensor.linear($0[0], weight: $0[1]) } == nil)
        }
    }

    @Test(arguments: BackendCase.all)
    func reductionsAndLayout(_ b: BackendCase) {
        let x = Self.r([2, 3, 4], 1)
        b.run {
            for axis in [0, 1, -1] {
                #expect(gradientCheck([x]) { $0[0].sum(axis: axis) } == nil, "\(b) sum \(axis)")
                #expect(gradientCheck([x]) { $0[0].mean(axis: axis, keepDim: true) } == nil, "\(b) mean \(axis)")
                #expect(gradientCheck([x]) { $0[0].max(axis: axis) } == nil, "\(b) max \(axis)")
                #expect(gradientCheck([x]) { $0[0].softmax(axis: axis) } == nil, "\(b) softmax \(axis)")
                #expect(gradientCheck([x]) { $0[0].logSoftmax(axis: axis) } == nil, "\(b) logSoftmax \(axis)")
            }
            #expect(gradientCheck([x]) { $0[0].sum() } == nil)
            #expect(gradientCheck([x]) { $0[0].mean() } == nil)
            #expect(gradientCheck([x]) { $0[0].transposed(0, 2) } == nil)
            #expect(gradientCheck([x]) { $0[0].permuted([1, 2, 0]) } == nil)
            #expect(gradientCheck([x]) { $0[0].reshaped([6, -1]) * $0[0].reshaped([6, 4]) } == nil)
            #expect(gradientCheck([x]) { $0[0].slice(axis: 1, 1..<3) } == nil)
            #expect(gradientCheck([x, Self.r([2, 2, 4], 2)]) { Tensor.concat([$0[0], $0[1]], axis: 1) } == nil)
            #expect(gradientCheck([x]) { $0[0].split([1, 3], axis: 2)[1] } == nil)
            #expect(gradientCheck([x]) { $0[0].gather(axis: 2, indices: [3, 0, 1, 1, 2, 2], indexShape: [2, 3, 1]) } == nil)
            #expect(gradientCheck([x]) { $0[0].broadcasted(to: [5, 2, 3, 4], scale: 2) } == nil)
            let cond = x .> Tensor(0)
            #expect(gradientCheck([x, Self.r([4], 3)]) { Tensor.where(cond, $0[0], $0[1]) } == nil)
        }
    }

    @Test(arguments: BackendCase.all)
    func fusedOps(_ b: BackendCase) {
        b.run {
            let logits = Self.r([5, 7], 1, scale: 2)
            let targets = [0, 6, 3, 3, 1]
            #expect(gradientCheck([logits]) { Tensor.crossEntropy($0[0], targets: targets) } == nil)
            #expect(gradientCheck([logits]) { Tensor.crossEntropy($0[0], targets: targets, reduction: .sum) } == nil)
            #expect(gradientCheck([logits]) { Tensor.crossEntropy($0[0], targets: targets, reduction: .none) } == nil)
            #expect(gradientCheck([logits]) { Tensor.crossEntropy($0[0], targets: [0, -100, 3, -100, 1], ignoreIndex: -100) } == nil)
            #expect(gradientCheck([Self.r([3, 4], 1), Self.r([3, 4], 2)]) { Tensor.mseLoss($0[0], $0[1]) } == nil)
            #expect(gradientCheck([Self.r([2, 3, 8], 1), Self.r([8], 2), Self.r([8], 3)]) {
                Tensor.layerNorm($0[0], weight: $0[1], bias: $0[2]) } == nil)
            #expect(gradientCheck([Self.r([4, 8], 1)]) { Tensor.layerNorm($0[0], weight: nil, bias: nil, eps: 1e-12) } == nil)
            #expect(gradientCheck([Self.r([6, 3], 1)]) { Tensor.embedding([1, 5, 1, 0], shape: [2, 2], weight: $0[0]) } == nil)
            let q = Self.r([2, 2, 5, 3], 1), k = Self.r([2, 2, 5, 3], 2), v = Self.r([2, 2, 5, 3], 3)
            #expect(gradientCheck([q, k, v]) { Tensor.causalAttention(q: $0[0], k: $0[1], v: $0[2], scale: 0.6) } == nil)
            #expect(gradientCheck([Self.r([3, 2, 2, 5, 3], 4)]) { Tensor.causalAttention(packed: $0[0], scale: 0.6) } == nil)
            // Packed and separate q, k, v: the same output and the same gradients, slab by slab.
            let packed = Tensor.concat([q, k, v].map { $0.reshaped([1, 2, 2, 5, 3]) }, axis: 0).requiringGrad()
            let (qs, ks, vs) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let w = Self.r([2, 2, 5, 3], 5)
            let yPacked = Tensor.causalAttention(packed: packed, scale: 0.6)
            let ySplit = Tensor.causalAttention(q: qs, k: ks, v: vs, scale: 0.6)
            #expect(yPacked.scalars == ySplit.scalars, "\(b)")
            (yPacked * w).sum().backward()
            (ySplit * w).sum().backward()
            #expect(packed.grad!.scalars == qs.grad!.scalars + ks.grad!.scalars + vs.grad!.scalars, "\(b)")
        }
    }
}
