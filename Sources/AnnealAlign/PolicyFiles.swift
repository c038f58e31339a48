// Character-GPT policies on disk: read from an `anneal train --model gpt` run
// directory or from a directory this module wrote (weights + vocabulary).

import Anneal
import AnnealData
import AnnealNN
import Foundation

/// GPT weights and their character vocabulary in a directory.
///
/// Written by `save`: `policy.safetensors` (parameters by name; metadata
/// `anneal.gpt_config` = GPTConfig JSON) and `vocab.json` (`CharTokenizer`).
/// Also read: an `anneal train --model gpt` run directory
/// (`checkpoint.safetensors` with `model.<name>` tensors, `anneal.config`
/// holding `heads`, and `vocab.json`).
public enum PolicyFiles {
    /// The weights file `save` writes.
    public static let weightsFile = "policy.safetensors"

    /// Loads a GPT and its tokenizer.
    /// - Throws: `DataError` naming the file for a missing or unreadable file,
    ///   an unknown layout, or weights that do not fit the configuration.
    public static func load(_ directory: URL) throws -> (GPT, CharTokenizer) {
        let own = directory.appendingPathComponent(weightsFile), run = directory.appendingPathComponent("checkpoint.safetensors")
        let url: URL, params: [String: Tensor], config: GPTConfig
        if FileManager.default.fileExists(atPath: own.path) {
            url = own
            let (tensors, meta) = try SafeTensors.readTensors(url)
            guard let json = meta["anneal.gpt_config"], let c = try? JSONDecoder().decode(GPTConfig.self, from: Data(json.utf8)) else {
                throw DataError(url: url, message: "metadata has no valid anneal.gpt_config")
            }
            params = tensors; config = c
        } else if FileManager.default.fileExists(atPath: run.path) {
            url = run
            let (tensors, meta) = try SafeTensors.readTensors(url)
            params = Dictionary(uniqueKeysWithValues: tensors.compactMap { k, v in k.hasPrefix("model.") ? (String(k.dropFirst(6)), v) : nil })
            config = try inferredConfig(params, trainConfig: meta["anneal.config"], url: url)
        } else {
            throw DataError(url: directory, message: "no \(weightsFile) or checkpoint.safetensors in \(directory.path)")
        }
        let tokenizer = try CharTokenizer.load(from: directory.appendingPathComponent("vocab.json"))
        guard tokenizer.vocabularySize == config.vocabularySize else {
            throw DataError(url: url, message: "vocab.json has \(tokenizer.vocabularySize) characters but the model \(config.vocabularySize)")
        }
        let saved = GlobalRandom.generator
        let model = GPT(config)
        GlobalRandom.generator = saved
        do { try model.update(parameters: params) } catch {
            throw DataError(url: url, message: "weights do not fit the model: \(error)")
        }
        return (model, tokenizer)
    }

    /// Writes `policy.safetensors` and `vocab.json` into `directory` (created if needed).
    public static func save(_ model: GPT, tokenizer: CharTokenizer, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let json = String(decoding: try JSONEncoder().encode(model.config), as: UTF8.self)
        try SafeTensors.writeTensors(model.stateDict(), metadata: ["anneal.gpt_config": json],
                                     to: directory.appendingPathComponent(weightsFile))
        try tokenizer.save(to: directory.appendingPathComponent("vocab.json"))
    }

    /// A GPT configuration from parameter shapes (`tok.weight` [V, C],
    /// `pos.weight` [T, C], `blocks.N.*`) and the run config's `heads`.
    static func inferredConfig(_ params: [String: Tensor], trainConfig: String?, url: URL) throws -> GPTConfig {
        guard let tok = params["tok.weight"], tok.rank == 2, let pos = params["pos.weight"], pos.rank == 2 else {
            throw DataError(url: url, message: "no GPT weights (model.tok.weight, model.pos.weight)")
        }
        let layers = Set(params.keys.compactMap { k -> Int? in
            let parts = k.split(separator: ".")
            return parts.count > 1 && parts[0] == "blocks" ? Int(parts[1]) : nil
        }).count
        struct Heads: Decodable { var heads: Int }
        guard let text = trainConfig, let heads = try? JSONDecoder().decode(Heads.self, from: Data(text.utf8)).heads, heads > 0 else {
            throw DataError(url: url, message: "metadata anneal.config has no \"heads\"")
        }
        return GPTConfig(vocabularySize: tok.shape[0], contextLength: pos.shape[0], dimensions: tok.shape[1],
                         layerCount: layers, headCount: heads, tiedEmbeddings: params["head.weight"] == nil)
    }
}
