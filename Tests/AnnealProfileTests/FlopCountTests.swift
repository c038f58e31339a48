// FLOP counts of profiled steps against analytic formulas: Linear, attention,
// a small GPT, and the exact W1/W2 figures of PyTorch's FlopCounterMode.

import Anneal
import AnnealNN
import AnnealOptim
import AnnealProfile
import AnnealWorkloads
import Testing
import _TestSupport

/// Every test that installs a profiler (ProfileScope's observer is global) runs in this serialized suite.
@Suite(.serialized) enum ProfilerTests {}

/// Runs `body` as one profiled step (no memory tracking) and returns the report.
func profileOneStep(_ body: () -> Void) -> ProfileReport {
    let p = Profiler(trackMemory: false)
    p.run { p.step { body() } }
    return p.report()
}

extension ProfilerTests {
    @Suite struct FlopCounts {
        @Test(arguments: BackendCase.all)
        func linearForwardAndBackward(_ b: BackendCase) {
            let (rows, inF, outF) = (5, 7, 3)
            let layer = Linear(inF, outF)
            b.run {
                // Input without grad: forward 2·r·i·o, backward dW only (2·r·i·o).
                let x = Tensor.randn([rows, inF], seed: 1)
                let r1 = profileOneStep { layer(x).sum().backward() }
                #expect(r1.linearFlops == 4 * rows * inF * outF)
                #expect(r1.attentionFlops == 0)
                // Input with grad: dx adds another 2·r·i·o.
                let xg = x.requiringGrad()
                let r2 = profileOneStep { layer(xg).sum().backward() }
                #expect(r2.linearFlops == 6 * rows * inF * outF)
                #expect(r2.ops.filter { $0.name == "gemm" }.count == 3)
            }
        }

        @Test(arguments: BackendCase.all)
        func attentionForwardAndBackward(_ b: BackendCase) {
            let (bs, h, t, d) = (2, 3, 5, 4)
            let q = Tensor.randn([bs, h, t, d], seed: 1).requiringGrad()
            let k = Tensor.randn([bs, h, t, d], seed: 2).requiringGrad()
            let v = Tensor.randn([bs, h, t, d], seed: 3).requiringGrad()
            b.run {
                let fwd = profileOneStep { _ = Runtime.withNoGrad { Tensor.causalAttention(q: q, k: k, v: v, scale: 0.5) } }
                #expect(fwd.attentionFlops == 4 * bs * h * t * t * d)
                let both = profileOneStep { Tensor.causalAttention(q: q, k: k, v: v, scale: 0.5).sum().backward() }
                #expect(both.attentionFlops == 12 * bs * h * t * t * d)   // forward 4·B·H·T²·Dh, backward twice that
                #expect(both.linearFlops == 0)
            }
        }

        @Test func smallGPTMatchesFormula() {
            let (v, t, d, layers, heads, batch) = (11, 8, 16, 2, 2, 3)
            let gpt = GPT(GPTConfig(vocabularySize: v, contextLength: t, dimensions: d, layerCount: layers, headCount: heads))
            let ids = (0..<(batch * t)).map { $0 % v }
            // Every dense GEMM runs forward, dx and dW: 6 FLOPs per weight per token.
            let linear = 6 * batch * t * (layers * 12 * d * d + d * v)
            let attention = 12 * batch * t * t * d * layers
            let r = profileOneStep { gpt(ids, batch: batch).sum().backward() }
            #expect(r.linearFlops == linear)
            #expect(r.attentionFlops == attention)
            #expect(r.totalFlops > linear + attention)
        }

        @Test func w1ExactLinearFlops() throws {
            let w = try #require(PhasedWorkload.make("W1"))
            let r = profileOneStep { _ = w.step() }
            #expect(r.linearFlops == 2_448_424_960)
            #expect(r.attentionFlops == 0)
        }

        @Test func w2ExactLinearAndAttentionFlops() throws {
            let w = try #require(PhasedWorkload.make("W2"))
            let r = profileOneStep { _ = w.step() }
            #expect(r.linearFlops == 9_765_912_576)
            #expect(r.attentionFlops == 805_306_368)
            #expect(r.modelFlops == 9_765_912_576 + 805_306_368)
            // Kaplan's 6·N·D with N = the dense weights is exactly the profiled linear count.
            let weights = w.model.namedParameters().filter { $0.0.hasSuffix(".weight") && $0.1.shape.count == 2
                && !$0.0.hasPrefix("tok") && !$0.0.hasPrefix("pos") }.reduce(0) { $0 + $1.1.value.count }
            #expect(TrainingCost.flops(ModelShape(parameters: weights), items: 32 * 64) == Double(r.linearFlops))
            // Phases: forward has a third of the dense FLOPs, backward two thirds.
            let phases = Dictionary(uniqueKeysWithValues: r.phases().map { ($0.name, $0) })
            let fwdLinear = r.ops.filter { $0.phase == .forward && $0.flopClass == .linear }.reduce(0) { $0 + $1.flops }
            #expect(fwdLinear * 3 == r.linearFlops)
            #expect(phases["forward"] != nil && phases["backward"] != nil && phases["optimizer"] != nil)
        }

        /// The phased workloads (with profiler markers in the graph) compute the same losses as `Workload.make`.
        @Test(arguments: ["W4", "W2"])
        func phasedStepMatchesWorkload(_ name: String) throws {
            let plain = try #require(Workload.make(name))
            let phased = try #require(PhasedWorkload.make(name))
            let p = Profiler(trackMemory: false)
            for _ in 0..<2 {
                let a = plain.step()
                let b = p.run { p.step { phased.step() } }
                #expect(a == b)
            }
        }
    }
}

extension ProfilerTests {
    @Suite struct Checkpoints {
        @Test func gptRebuiltFromItsParameters() throws {
            let (v, t, d, layers, heads, batch) = (11, 8, 16, 2, 2, 3)
            GlobalRandom.seed(9)
            let gpt = GPT(GPTConfig(vocabularySize: v, contextLength: t, dimensions: d, layerCount: layers, headCount: heads))
            var stored = Dictionary(uniqueKeysWithValues: gpt.stateDict().map { ("model." + $0.key, $0.value) })
            stored["optim.tok.weight.exp_avg"] = Tensor.zeros([v, d])
            let w = try PhasedWorkload.fromParameters(stored, heads: heads, batch: batch)
            #expect(w.itemsPerStep == batch * t)
            let rebuilt = w.model.stateDict()
            for (name, value) in gpt.stateDict() { #expect(rebuilt[name]?.scalars == value.scalars, "\(name) differs") }
            let r = profileOneStep { _ = w.step() }
            #expect(r.linearFlops == 6 * batch * t * (layers * 12 * d * d + d * v))
            #expect(r.attentionFlops == 12 * batch * t * t * d * layers)
        }

        @Test func mlpRebuiltAndBadNamesRejected() throws {
            let mlp = Sequential.mlp([6, 5, 3])
            let w = try PhasedWorkload.fromParameters(mlp.stateDict(), heads: 1, batch: 4)
            let r = profileOneStep { _ = w.step() }
            #expect(r.linearFlops == 2 * 4 * (6 * 5 + 5 * 3) + 2 * 4 * (6 * 5 + 5 * 3) + 2 * 4 * 5 * 3)   // fwd, dW, dx of layer 2
            #expect(throws: WorkloadError.self) { try PhasedWorkload.fromParameters(["embed.x": Tensor.zeros([2])], heads: 1, batch: 1) }
            var gptParams = GPT(GPTConfig(vocabularySize: 5, contextLength: 4, dimensions: 8, layerCount: 1, headCount: 2)).stateDict()
            #expect(throws: WorkloadError.self) { try PhasedWorkload.fromParameters(gptParams, heads: 3, batch: 1) }
            gptParams["blocks.0.fc.weight"] = Tensor.zeros([3, 3])
            #expect(throws: WorkloadError.self) { try PhasedWorkload.fromParameters(gptParams, heads: 2, batch: 1) }
        }
    }
}
