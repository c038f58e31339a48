// Modules: PyTorch-compatible parameter names, loading PyTorch state dicts
// (exported once by scripts/make_gpt_fixture.py) with identical outputs,
// load errors, freezing, train/eval mode.

import Anneal
import AnnealData
import AnnealNN
import Foundation
import Testing
import _TestSupport

struct ExpectedOutput: Decodable {
    struct T: Decodable { let shape: [Int]; let data: [Double]; var tensor: Tensor { Tensor(shape: shape, data.map(Float.init)) } }
    let tensor_names: [String]
    let input_ids: [[Int]]?
    let logits: T?
    let x: T?
    let output: T?
    let config: [String: JSONNumberOrString]?
}

enum JSONNumberOrString: Decodable {
    case int(Int), double(Double), string(String), other
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .int(i) } else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) } else { self = .other }
    }
    var int: Int? { if case .int(let i) = self { i } else { nil } }
}

func loadFixture(_ name: String) throws -> (weights: [String: Tensor], expected: ExpectedOutput) {
    let w = try SafeTensors.readTensors(resourceURL(Bundle.module, "\(name).safetensors")).tensors
    let e = try JSONDecoder().decode(ExpectedOutput.self, from: Data(contentsOf: resourceURL(Bundle.module, "\(name)_expected.json")))
    return (w, e)
}

@Suite struct ModuleTests {
    @Test(arguments: BackendCase.all)
    func gptLoadsPyTorchWeightsAndMatchesLogits(_ b: BackendCase) throws {
        let (weights, expected) = try loadFixture("gpt_small")
        let c = expected.config!
        let model = GPT(GPTConfig(vocabularySize: c["V"]!.int!, contextLength: c["T"]!.int!, dimensions: c["d"]!.int!,
                                  layerCount: c["L"]!.int!, headCount: c["h"]!.int!))
        #expect(Set(model.namedParameters().map(\.0)) == Set(expected.tensor_names))
        try model.update(parameters: weights)
        let ids = expected.input_ids!
        let logits = b.run { model(ids.flatMap { $0 }, batch: ids.count) }
        let want = expected.logits!.tensor
        #expect(logits.shape == want.shape)
        #expect(closeness(logits, want, rtol: 0, atol: 1e-4) <= 0, "\(b): logits differ by more than 1e-4")
    }

    @Test(arguments: BackendCase.all)
    func mlpLoadsPyTorchWeightsAndMatchesOutput(_ b: BackendCase) throws {
        let (weights, expected) = try loadFixture("mlp_small")
        let model = Sequential.mlp([8, 16, 16, 3])
        #expect(model.namedParameters().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
        try model.update(parameters: weights)
        let y = b.run { model(expected.x!.tensor) }
        #expect(closeness(y, expected.output!.tensor, rtol: 0, atol: 1e-5) <= 0)
    }

    @Test func referenceModelNames() {
        let gpt = GPT(GPTConfig(vocabularySize: 65, contextLength: 64, dimensions: 128, layerCount: 4, headCount: 4))
        let names = gpt.namedParameters().map(\.0)
        for n in ["tok.weight", "pos.weight", "blocks.0.ln1.weight", "blocks.0.qkv.weight", "blocks.0.proj.bias",
                  "blocks.0.fc.weight", "blocks.0.out.weight", "blocks.3.ln2.bias", "lnf.weight", "head.weight"] {
            #expect(names.contains(n), "missing \(n)")
        }
        #expect(!names.contains("head.bias"))
        #expect(gpt.parameterCount == 65 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 2 * 128 + 65 * 128)
        let tied = GPT(GPTConfig(vocabularySize: 11, contextLength: 8, dimensions: 16, layerCount: 1, headCount: 2, tiedEmbeddings: true))
        let p = Dictionary(tied.namedParameters(), uniquingKeysWith: { a, _ in a })
        #expect(p["head.weight"] === p["tok.weight"])
        #expect(tied.trainableParameters().filter { $0.1 === p["tok.weight"] }.count == 1)
    }

    @Test func updateReportsEveryMismatchByName() throws {
        let model = Sequential.mlp([4, 3, 2])
        var state = model.stateDict()
        state["0.weight"] = Tensor.zeros([3, 5])
        state.removeValue(forKey: "2.bias")
        state["extra.weight"] = Tensor.zeros([1])
        do {
            try model.update(parameters: state)
            Issue.record("expected an error")
        } catch let e as ModuleLoadError {
            #expect(e.missing == ["2.bias"] && e.unexpected == ["extra.weight"])
            #expect(e.shapeMismatches.count == 1 && e.description.contains("0.weight: checkpoint [3, 5] vs model [3, 4]"))
        }
        state["0.weight"] = Tensor.ones([3, 4])
        let report = try model.update(parameters: state, verify: .none)
        #expect(report.missing == ["2.bias"] && report.unexpected == ["extra.weight"])
        #expect(model.stateDict()["0.weight"]!.scalars == [Float](repeating: 1, count: 12))
    }

    @Test func freezeByGlobAndTrainEval() {
        let gpt = GPT(GPTConfig(vocabularySize: 11, contextLength: 8, dimensions: 16, layerCount: 4, headCount: 2))
        let frozen = gpt.freeze(["blocks.[0-1].*", "tok.*"])
        #expect(frozen.count == 1 + 2 * 12)
        #expect(!gpt.trainableParameters().contains { $0.0.hasPrefix("blocks.0.") || $0.0.hasPrefix("blocks.1.") })
        #expect(gpt.trainableParameters().contains { $0.0 == "blocks.2.qkv.weight" })
        gpt.unfreeze(["blocks.1.*"])
        #expect(gpt.trainableParameters().contains { $0.0 == "blocks.1.fc.bias" })
        #expect(Glob.matches("encoder.layer.[0-3].*", "encoder.layer.2.attention.self.query.weight"))
        #expect(!Glob.matches("encoder.layer.[0-3].*", "encoder.layer.4.output.dense.bias"))
        let drop = Dropout(0.5)
        let x = Tensor.ones([1000])
        let y = drop(x)
        #expect(y.scalars.allSatisfy { $0 == 0 || $0 == 2 } && y.scalars.contains(0))
        drop.eval()
        #expect(drop(x).scalars == x.scalars)
    }

    @Test func linearInitialisationIsDistributedAsPyTorch() {
        let l = Linear(400, 300)
        let bound = 1 / Float(400).squareRoot()
        let w = l.weight.value.scalars
        #expect(w.allSatisfy { abs($0) <= bound })
        // U(−b, b) has variance b²/3.
        let variance = w.reduce(0) { $0 + $1 * $1 } / Float(w.count)
        #expect(abs(variance - bound * bound / 3) < 0.05 * bound * bound / 3)
    }
}
