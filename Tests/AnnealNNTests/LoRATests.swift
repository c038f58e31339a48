// LoRA: peft names and initialisation, only adapters trainable, the forward
// formula, merge/unmerge after real training steps, adapter files through
// safetensors, and the backward GEMMs of an adapted frozen layer.

import Anneal
import AnnealData
import AnnealNN
import Foundation
import Testing
import _TestSupport

/// Plain SGD on the trainable parameters (the tests need no optimizer state).
func plainSGDSteps(_ model: Module, steps: Int, learningRate: Float, loss: () -> Tensor) {
    for _ in 0..<steps {
        model.zeroGrad()
        loss().backward()
        for (_, p) in model.trainableParameters() {
            guard let g = p.grad else { continue }
            g.withUnsafeBufferPointer { g in p.withMutableValues { w in for i in w.indices { w[i] -= learningRate * g[i] } } }
        }
    }
}

/// max |a − b| / ‖b‖₂.
func maxErrorRelativeToNorm(_ a: Tensor, _ b: Tensor) -> Float {
    let norm = b.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / norm
}

extension TransferLearningTests {
    @Suite struct LoRATests {
        static func model() -> Sequential {
            GlobalRandom.seed(11)
            return Sequential.mlp([10, 24, 24, 4])
        }

        @Test func namesShapesInitialisationAndTrainability() throws {
            let m = Self.model()
            let adapted = try m.applyLoRA(LoRAConfiguration(rank: 3, alpha: 6, targets: ["0", "2"], trainable: ["4.*"]))
            #expect(adapted == ["0", "2"])
            let shapes = Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.shape) })
            #expect(shapes["0.lora_A.weight"] == [3, 10] && shapes["0.lora_B.weight"] == [24, 3])
            #expect(shapes["2.lora_A.weight"] == [3, 24] && shapes["2.lora_B.weight"] == [24, 3])
            #expect(m.trainableParameters().map(\.0).sorted()
                    == ["0.lora_A.weight", "0.lora_B.weight", "2.lora_A.weight", "2.lora_B.weight", "4.bias", "4.weight"])
            let lora = m.loraLayers()[0].2
            #expect(lora.scaling == 2)
            #expect(lora.up.weight.value.scalars.allSatisfy { $0 == 0 }, "B starts at zero")
            let bound = 1 / Float(10).squareRoot()
            let a = lora.down.weight.value.scalars
            #expect(a.allSatisfy { abs($0) <= bound } && a.contains { $0 != 0 }, "A is Kaiming-uniform U(−1/√in, 1/√in)")
            // Suffix targets as peft's target_modules; no match and double application are errors.
            let gpt = GPT(GPTConfig(vocabularySize: 11, contextLength: 8, dimensions: 16, layerCount: 2, headCount: 2))
            #expect(try gpt.applyLoRA(LoRAConfiguration(targets: ["qkv", "blocks.1.fc"])) == ["blocks.0.qkv", "blocks.1.qkv", "blocks.1.fc"])
            #expect(gpt.namedParameters().contains { $0.0 == "blocks.1.fc.lora_B.weight" })
            #expect(throws: LoRAError.self) { try gpt.applyLoRA(LoRAConfiguration(targets: ["qkv"])) }
            #expect(throws: LoRAError.self) { try Self.model().applyLoRA(LoRAConfiguration(targets: ["query"])) }
        }

        /// y = x·Wᵀ + b + (α/r)·x·Aᵀ·Bᵀ, checked against the formula written out.
        @Test(arguments: BackendCase.all)
        func forwardMatchesFormula(_ b: BackendCase) throws {
            let layer = Linear(6, 5)
            try layer.applyLoRA(LoRAConfiguration(rank: 2, alpha: 3, targets: ["*"]))
            let lora = layer.adapter as! LoRA
            lora.up.weight.assign(Tensor.randn([5, 2], seed: 12))
            let x = Tensor.randn([7, 6], seed: 13)
            let y = b.run { layer(x) }
            let want = b.run {
                Tensor.linear(x, weight: layer.weight.value, bias: layer.bias!.value)
                    + Tensor.matmul(Tensor.matmul(x, lora.down.weight.value, transposeB: true), lora.up.weight.value, transposeB: true) * 1.5
            }
            #expect(closeness(y, want, rtol: 1e-5, atol: 1e-6) <= 0)
            // Gradients reach A and B through the layer as through the formula (base frozen: none for W, b).
            let aLeaf = lora.down.weight.value.detached().requiringGrad(), bLeaf = lora.up.weight.value.detached().requiringGrad()
            b.run {
                layer(x).squared().sum().backward()
                let y2 = Tensor.linear(x, weight: layer.weight.value, bias: layer.bias!.value)
                    + Tensor.matmul(Tensor.matmul(x, aLeaf, transposeB: true), bLeaf, transposeB: true) * 1.5
                y2.squared().sum().backward()
            }
            #expect(closeness(lora.down.weight.grad!, aLeaf.grad!, rtol: 1e-4, atol: 1e-5) <= 0)
            #expect(closeness(lora.up.weight.grad!, bLeaf.grad!, rtol: 1e-4, atol: 1e-5) <= 0)
            #expect(layer.weight.grad == nil && layer.bias!.grad == nil)
        }

        /// After training steps (non-zero B), merged output equals unmerged within
        /// 1e-5 of the output norm, and unmerging restores the base weights.
        @Test(arguments: BackendCase.all)
        func mergeEqualsUnmergedAfterTraining(_ b: BackendCase) throws {
            let m = Self.model()
            let base = m.stateDict()
            try m.applyLoRA(LoRAConfiguration(rank: 4, alpha: 8, dropout: 0.1, targets: ["0", "2", "4"]))
            let x = Tensor.randn([32, 10], seed: 14)
            let targets = (0..<32).map { $0 % 4 }
            b.run { plainSGDSteps(m, steps: 5, learningRate: 0.5) { Tensor.crossEntropy(m(x), targets: targets) } }
            for (name, _, lora) in m.loraLayers() {
                #expect(lora.up.weight.value.scalars.contains { $0 != 0 }, "\(name): B was trained")
            }
            for name in ["0.weight", "2.bias", "4.weight"] {
                #expect(m.stateDict()[name]!.scalars == base[name]!.scalars, "\(name): base weights are frozen")
            }
            m.eval()
            let unmerged = b.run { m(x) }
            m.mergeLoRA()
            #expect(m.loraLayers().allSatisfy { $0.2.isMerged })
            let merged = b.run { m(x) }
            #expect(maxErrorRelativeToNorm(merged, unmerged) <= 1e-5, "\(b): merged vs unmerged \(maxErrorRelativeToNorm(merged, unmerged))")
            #expect(m.stateDict()["0.weight"]!.scalars != base["0.weight"]!.scalars)
            m.unmergeLoRA()
            for name in ["0.weight", "2.weight", "4.weight"] {
                let w = m.stateDict()[name]!, w0 = base[name]!
                let scale = w0.scalars.map(abs).max()!
                #expect(closeness(w, w0, rtol: 0, atol: 1e-6 * scale) <= 0, "\(b): unmerge restores \(name)")
            }
            #expect(closeness(b.run { m(x) }, unmerged, rtol: 1e-5, atol: 1e-6) <= 0)
            m.removeLoRA(merge: true)
            #expect(m.loraLayers().isEmpty && !m.namedParameters().contains { $0.0.contains("lora") })
            #expect(maxErrorRelativeToNorm(b.run { m(x) }, unmerged) <= 1e-5, "merge-and-unload keeps the function")
        }

        /// Dropout acts on the adapter input in training mode only.
        @Test func dropoutOnlyInTraining() throws {
            let layer = Linear(8, 8)
            try layer.applyLoRA(LoRAConfiguration(rank: 2, dropout: 0.5, targets: ["*"]))
            (layer.adapter as! LoRA).up.weight.assign(Tensor.ones([8, 2]))
            let x = Tensor.ones([4, 8])
            let first = layer(x), second = layer(x)
            #expect(first.scalars != second.scalars, "training mode draws a dropout mask")
            layer.eval()
            #expect(layer(x).scalars == layer(x).scalars)
        }

        /// Adapter-only files: write, read into a fresh model with the same base, same outputs; strict errors list names.
        @Test func adapterFileRoundTrip() throws {
            let m = Self.model()
            try m.applyLoRA(LoRAConfiguration(rank: 2, targets: ["0", "2"], trainable: ["4.*"]))
            let x = Tensor.randn([5, 10], seed: 15)
            plainSGDSteps(m, steps: 3, learningRate: 0.3) { Tensor.crossEntropy(m(x), targets: [0, 1, 2, 3, 0]) }
            let state = m.adapterStateDict(including: ["4.*"])
            #expect(state.keys.sorted() == ["0.lora_A.weight", "0.lora_B.weight", "2.lora_A.weight", "2.lora_B.weight", "4.bias", "4.weight"])
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).safetensors")
            defer { try? FileManager.default.removeItem(at: url) }
            try SafeTensors.writeTensors(state, metadata: ["format": "pt"], to: url)

            let fresh = Self.model()   // same seed: same base weights
            try fresh.applyLoRA(LoRAConfiguration(rank: 2, targets: ["0", "2"], trainable: ["4.*"]))
            let loaded = try SafeTensors.readTensors(url).tensors
            let report = try fresh.loadAdapterState(loaded, including: ["4.*"])
            #expect(report.loaded.count == 6)
            m.eval(); fresh.eval()
            #expect(m(x).scalars == fresh(x).scalars)

            var wrong = loaded
            wrong["0.lora_A.weight"] = Tensor.zeros([3, 10])
            wrong.removeValue(forKey: "2.lora_B.weight")
            wrong["9.lora_A.weight"] = Tensor.zeros([1])
            do {
                try fresh.loadAdapterState(wrong, including: ["4.*"])
                Issue.record("expected an error")
            } catch let e as ModuleLoadError {
                #expect(e.missing == ["2.lora_B.weight"] && e.unexpected == ["9.lora_A.weight"])
                #expect(e.description.contains("0.lora_A.weight: adapter file [3, 10] vs model [2, 10]"))
            }
        }

        /// A frozen Linear with LoRA: backward runs dB, d(xAᵀ) and dA only (no base dW,
        /// no dX for a leaf input): 2·N·r·(out + out + in) FLOPs.
        @Test func adaptedFrozenLayerBackwardGEMMs() throws {
            let layer = Linear(64, 48)
            try layer.applyLoRA(LoRAConfiguration(rank: 4, targets: ["*"]))
            let x = Tensor.randn([16, 64], seed: 16)
            let (_, bwd) = observedForwardBackward(Runtime.backend) { layer(x).sum() }
            #expect(bwd.count("gemm") == 3)
            #expect(bwd.gemmFlops == 2 * 16 * 4 * (48 + 48 + 64))
            #expect(layer.weight.grad == nil && layer.bias!.grad == nil)
        }
    }
}
