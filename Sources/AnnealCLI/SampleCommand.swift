// `anneal sample`: generates text from a character-GPT checkpoint.

import Anneal
import AnnealData
import AnnealNN
import AnnealTrain
import ArgumentParser
import Foundation

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Generate text from a GPT checkpoint.")

    @Option(help: "Run directory holding checkpoint.safetensors and vocab.json.") var checkpoint: String
    @Option(help: "Text to continue (its characters must be in the vocabulary).") var prompt = ""
    @Option(help: "Characters to generate.") var length = 200
    @Option(help: "Softmax temperature (> 0).") var temperature: Float = 1
    @Option(help: "Sample only among the k most likely characters (0: all).") var topK = 0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        guard temperature > 0 else { throw ValidationError("--temperature must be positive") }
        let dir = URL(fileURLWithPath: checkpoint)
        do {
            let config = try JSONDecoder().decode(TrainConfig.self, from: Checkpoint.config(in: dir))
            guard config.model == "gpt" else { throw TrainError("\(dir.path) holds a \(config.model) checkpoint, not a GPT") }
            let tokenizer = try CharTokenizer.load(from: dir.appendingPathComponent("vocab.json"))
            let gpt = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: config.contextLength,
                                    dimensions: config.dimensions, layerCount: config.layers, headCount: config.heads))
            _ = try Checkpoint.load(from: dir, model: gpt, optimizer: nil)
            gpt.eval()
            var ids = try tokenizer.encode(prompt)
            if ids.isEmpty { ids = [0] }
            var rng = RandomGenerator(seed: seed)
            Runtime.withNoGrad {
                for _ in 0..<length {
                    let window = Array(ids.suffix(config.contextLength))
                    let logits = gpt(window, batch: 1)
                    let last = logits.reshaped([window.count, tokenizer.vocabularySize]).slice(axis: 0, (window.count - 1)..<window.count)
                    ids.append(Self.sample(last.scalars, temperature: temperature, topK: topK, rng: &rng))
                }
            }
            print(try tokenizer.decode(ids))
        } catch let e as ValidationError {
            throw e
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Draws an index from softmax(logits / temperature), restricted to the top k.
    static func sample(_ logits: [Float], temperature: Float, topK: Int, rng: inout RandomGenerator) -> Int {
        var order = Array(logits.indices).sorted { logits[$0] > logits[$1] }
        if topK > 0 { order = Array(order.prefix(topK)) }
        let m = logits[order[0]]
        let weights = order.map { Foundation.exp(Double((logits[$0] - m) / temperature)) }
        var u = Double(rng.nextFloat()) * weights.reduce(0, +)
        for (i, w) in zip(order, weights) { u -= w; if u <= 0 { return i } }
        return order.last!
    }
}
