// Freezing: the kernels a backward pass runs with a frozen prefix, counted
// through an ObservedBackend and compared with the analytic GEMM counts and
// FLOPs; frozen parameters get no gradient; trainable gradients are unchanged.

import Anneal
import AnnealNN
import Foundation
import Synchronization
import Testing
import _TestSupport

/// Every suite of the transfer-learning tests (freezing, LoRA, transfer) runs
/// serially: layer initialisation draws from the process-wide `GlobalRandom`.
@Suite(.serialized) enum TransferLearningTests {}

/// Records every kernel event (name, FLOPs, detail) in order.
final class KernelEventRecorder: KernelObserver, @unchecked Sendable {
    private let events = Mutex<[KernelEvent]>([])
    func record(_ event: KernelEvent) { events.withLock { $0.append(event) } }
    var all: [KernelEvent] { events.withLock { $0 } }
    func reset() { events.withLock { $0 = [] } }
    func count(_ name: String) -> Int { all.filter { $0.name == name }.count }
    var gemmFlops: Int { all.filter { $0.name == "gemm" }.reduce(0) { $0 + $1.flops } }
}

/// Runs forward + loss on `backend` observed, then backward observed: (forward events, backward events).
func observedForwardBackward(_ backend: Backend, _ forward: () -> Tensor) -> (forward: KernelEventRecorder, backward: KernelEventRecorder) {
    let fwd = KernelEventRecorder(), bwd = KernelEventRecorder()
    let loss = Runtime.withBackend(ObservedBackend(backend, observer: fwd), forward)
    Runtime.withBackend(ObservedBackend(backend, observer: bwd)) { loss.backward() }
    return (fwd, bwd)
}

extension TransferLearningTests {
    @Suite struct FreezeTests {
        static let sizes = [784, 1024, 1024, 10]
        static let batch = 32

        /// W1's MLP with its first `frozenLayers` Linear layers frozen: the backward
        /// pass runs dW for every trainable layer l ≥ k and dX only where a trainable
        /// layer lies below, i.e. for l ≥ k + 1 (never for the network input).
        @Test(arguments: [0, 1, 2])
        func frozenPrefixAddsNoBackwardGEMM(frozenLayers k: Int) {
            GlobalRandom.seed(3)
            let model = Sequential.mlp(Self.sizes)
            if k > 0 { model.freeze((0..<k).map { "\(2 * $0).*" }) }   // freeze([]) would freeze everything
            let x = Tensor.randn([Self.batch, Self.sizes[0]], seed: 4)
            let targets = (0..<Self.batch).map { $0 % 10 }
            let (fwd, bwd) = observedForwardBackward(Runtime.backend) { Tensor.crossEntropy(model(x), targets: targets) }

            let layers = Self.sizes.count - 1
            let gemmFlops = (0..<layers).map { 2 * Self.batch * Self.sizes[$0] * Self.sizes[$0 + 1] }   // one GEMM of layer l
            #expect(fwd.count("gemm") == layers, "the frozen layers still run forward")
            #expect(fwd.gemmFlops == gemmFlops.reduce(0, +))
            let weightGrads = Array(k..<layers), inputGrads = Array((k + 1)..<layers)
            #expect(bwd.count("gemm") == weightGrads.count + inputGrads.count,
                    "k=\(k): backward GEMMs \(bwd.all.filter { $0.name == "gemm" }.map(\.detail))")
            #expect(bwd.gemmFlops == (weightGrads + inputGrads).reduce(0) { $0 + gemmFlops[$1] })
            // Nothing below the lowest trainable layer: no ReLU backward under it, a bias sum per trainable layer.
            #expect(bwd.count("unary_backward.relu") == max(0, layers - 1 - k))
            #expect(bwd.count("reduce.sum") == layers - k)
            for (name, p) in model.namedParameters() {
                let frozen = (0..<k).contains { name.hasPrefix("\(2 * $0).") }
                #expect((p.grad == nil) == frozen, "\(name): frozen \(frozen), gradient \(p.grad == nil ? "absent" : "present")")
            }
        }

        /// The W1F case exactly: only the last layer's dW (10×1024 over the batch) runs backward.
        @Test func w1fBackwardIsOneSmallGEMM() {
            let model = Sequential.mlp(Self.sizes)
            model.freeze(["0.*", "2.*"])
            let x = Tensor.randn([Self.batch, 784], seed: 5)
            let (_, bwd) = observedForwardBackward(Runtime.backend) { Tensor.crossEntropy(model(x), targets: Array(repeating: 1, count: Self.batch)) }
            let gemms = bwd.all.filter { $0.name == "gemm" }
            #expect(gemms.map(\.detail) == ["m=10 n=1024 k=\(Self.batch) batch=1 tA=1 tB=0"])
            #expect(bwd.gemmFlops == 2 * 10 * 1024 * Self.batch)
        }

        /// A GPT with its embeddings and lowest blocks frozen: each trainable block
        /// costs 12 backward GEMMs (qkv, proj, fc, out: dX and dW; attention: dV,
        /// dP, dQ, dK), the head 2, frozen blocks none.
        @Test(arguments: [0, 1, 3])
        func transformerBackwardStopsAtLowestTrainableBlock(frozenBlocks k: Int) {
            GlobalRandom.seed(6)
            let config = GPTConfig(vocabularySize: 17, contextLength: 8, dimensions: 16, layerCount: 4, headCount: 2)
            let gpt = GPT(config)
            if k > 0 { gpt.freeze(["tok.*", "pos.*", "blocks.[0-\(k - 1)].*"]) }
            let ids = (0..<16).map { $0 % 17 }
            let (_, bwd) = observedForwardBackward(Runtime.backend) {
                Tensor.crossEntropy(gpt(ids, batch: 2).reshaped([16, 17]), targets: ids.map { ($0 + 1) % 17 })
            }
            #expect(bwd.count("gemm") == 12 * (config.layerCount - k) + 2)
            #expect(bwd.count("layer_norm_backward") == 2 * (config.layerCount - k) + 1)
            #expect(bwd.count("scatter_add_rows") == (k == 0 ? 2 : 0), "embedding gradients only when trainable")
        }

        /// Freezing a prefix changes no gradient of the parameters above it.
        @Test(arguments: BackendCase.all)
        func trainableGradientsAreUnchangedByFreezing(_ b: BackendCase) {
            GlobalRandom.seed(8)
            let model = Sequential.mlp([12, 20, 16, 5])
            let x = Tensor.randn([9, 12], seed: 9)
            let targets = [0, 1, 2, 3, 4, 0, 1, 2, 3]
            func grads() -> [String: Tensor] {
                model.zeroGrad()
                b.run { Tensor.crossEntropy(model(x), targets: targets).backward() }
                return Dictionary(uniqueKeysWithValues: model.namedParameters().compactMap { n, p in p.grad.map { (n, $0) } })
            }
            let full = grads()
            model.freeze(["0.*"])
            let partial = grads()
            #expect(Set(partial.keys) == ["2.weight", "2.bias", "4.weight", "4.bias"])
            for (name, g) in partial { #expect(closeness(g, full[name]!, rtol: 1e-5, atol: 1e-7) <= 0, "\(b): \(name)") }
        }

        /// Per-parameter freezing; a frozen value is a plain tensor and unfreezing keeps its values.
        @Test func perParameterFreezeKeepsValues() {
            let layer = Linear(3, 2)
            let before = layer.weight.value.scalars
            layer.weight.isFrozen = true
            #expect(!layer.weight.value.requiresGrad && layer.bias!.value.requiresGrad)
            #expect(layer.trainableParameters().map(\.0) == ["bias"])
            let y = layer(Tensor.ones([4, 3]))
            y.sum().backward()
            #expect(layer.weight.grad == nil && layer.bias!.grad != nil)
            layer.weight.isFrozen = false
            #expect(layer.weight.value.requiresGrad && layer.weight.value.scalars == before)
        }
    }
}
