// What a run trains: a classifier MLP on CSV features or a character GPT on
// text. Each task owns its model and data and defines a batch's loss.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation

/// A model plus its data, as the trainer sees them.
protocol TrainingTask {
    var module: Module { get }
    /// "samples" or "tokens".
    var itemName: String { get }
    /// Approximate training FLOPs per item (6 × dense parameters; plus attention for a GPT).
    var flopsPerItem: Double { get }
    /// Batches of an epoch (each an opaque list of indices), fixed by seed and epoch.
    func batches(epoch: Int, batchSize: Int, seed: UInt64) -> [[Int]]
    /// The training loss of one batch and the number of items in it.
    func loss(batch: [Int]) -> (Tensor, Int)
    /// Validation loss and accuracy (nil where accuracy does not apply).
    func validate() -> (loss: Double, accuracy: Double?)
    /// Writes files the model needs later (vocabulary, standardiser).
    func saveArtifacts(_ directory: URL) throws
}

/// The digits set shipped inside the package (scikit-learn's, 1797 × 64).
public enum EmbeddedData {
    /// URL of the embedded digits.csv.
    public static var digitsURL: URL {
        guard let url = Bundle.module.url(forResource: "digits", withExtension: "csv") else {
            fatalError("the embedded digits.csv is missing from the AnnealTrain bundle")
        }
        return url
    }
}

/// MLP classifier on standardised CSV features.
final class ClassifierTask: TrainingTask {
    let model: Sequential
    var module: Module { model }
    let x: Tensor, labels: [Int]
    let trainRows: [Int], validationRows: [Int]
    let standardizer: FeatureStandardizer
    let itemName = "samples"
    let flopsPerItem: Double

    init(_ config: TrainConfig) throws {
        let url = config.data.map { URL(fileURLWithPath: $0) } ?? EmbeddedData.digitsURL
        let label: LabelColumn = config.labelColumn.map { Int($0).map(LabelColumn.index) ?? .name($0) } ?? .automatic
        let data = try CSVDataset.load(url, label: label)
        guard data.rowCount >= 2, data.classCount >= 2 else {
            throw DataError(url: url, message: "need at least 2 rows and 2 classes, found \(data.rowCount) rows, \(data.classCount) classes")
        }
        let split = DataSplit.trainValidation(count: data.rowCount, validationFraction: config.validationFraction, seed: config.seed)
        trainRows = split.train; validationRows = split.validation
        var features = data.features
        standardizer = FeatureStandardizer(fitting: data.subset(split.train).features, featureCount: data.featureCount)
        standardizer.apply(to: &features)
        x = Tensor(shape: [data.rowCount, data.featureCount], features)
        labels = data.labels
        model = Sequential.mlp([data.featureCount] + config.hidden + [data.classCount])
        flopsPerItem = 6 * Double(model.parameterCount)
    }

    func batches(epoch: Int, batchSize: Int, seed: UInt64) -> [[Int]] {
        DataSplit.epochBatches(trainRows, batchSize: batchSize, seed: seed, epoch: epoch)
    }

    func loss(batch: [Int]) -> (Tensor, Int) {
        (Tensor.crossEntropy(model(Fit.rows(x, batch)), targets: batch.map { labels[$0] }), batch.count)
    }

    func validate() -> (loss: Double, accuracy: Double?) {
        let rows = validationRows.isEmpty ? trainRows : validationRows
        return Runtime.withNoGrad {
            let logits = model(Fit.rows(x, rows))
            let targets = rows.map { labels[$0] }
            let loss = Double(Tensor.crossEntropy(logits, targets: targets).item())
            let correct = zip(logits.argmax(axis: -1), targets).filter { $0 == $1 }.count
            return (loss, Double(correct) / Double(rows.count))
        }
    }

    func saveArtifacts(_ directory: URL) throws {
        try AtomicFile.write(try JSONEncoder().encode(standardizer), to: directory.appendingPathComponent("standardizer.json"))
    }
}

/// Character-level GPT on a UTF-8 text file (90 % train, 10 % validation).
final class TextTask: TrainingTask {
    let model: GPT
    var module: Module { model }
    let tokenizer: CharTokenizer
    let train: NextTokenWindows, validation: NextTokenWindows
    let stepsPerEpoch: Int
    let itemName = "tokens"
    let flopsPerItem: Double

    init(_ config: TrainConfig) throws {
        guard let path = config.text else { throw TrainError("--model gpt needs --text FILE") }
        let text = try TextFile.read(URL(fileURLWithPath: path))
        tokenizer = CharTokenizer(text: text)
        let tokens = try tokenizer.encode(text)
        let (a, b) = NextTokenWindows.split(tokens, validationFraction: 0.1)
        guard a.count > config.contextLength + 1, b.count > config.contextLength + 1 else {
            throw DataError(file: path, message: "text too short for context length \(config.contextLength) (\(tokens.count) tokens)")
        }
        train = try NextTokenWindows(tokens: a, contextLength: config.contextLength, source: path)
        validation = try NextTokenWindows(tokens: b, contextLength: config.contextLength, source: path)
        model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: config.contextLength,
                              dimensions: config.dimensions, layerCount: config.layers, headCount: config.heads))
        stepsPerEpoch = config.stepsPerEpoch
        let c = Double(config.dimensions), l = Double(config.layers), t = Double(config.contextLength)
        flopsPerItem = 6 * Double(model.parameterCount) + 6 * l * t * c
    }

    func batches(epoch: Int, batchSize: Int, seed: UInt64) -> [[Int]] {
        Array(train.epochBatches(batchSize: batchSize, seed: seed, epoch: epoch, dropLast: true).prefix(stepsPerEpoch))
    }

    func loss(batch: [Int]) -> (Tensor, Int) {
        let (inputs, targets) = train.batch(starts: batch)
        let logits = model(inputs, batch: batch.count)
        return (Tensor.crossEntropy(logits.reshaped([-1, tokenizer.vocabularySize]), targets: targets), targets.count)
    }

    func validate() -> (loss: Double, accuracy: Double?) {
        let starts = Array(stride(from: 0, to: validation.startCount, by: max(1, validation.startCount / 64)).prefix(64))
        return Runtime.withNoGrad {
            let (inputs, targets) = validation.batch(starts: starts)
            let logits = model(inputs, batch: starts.count)
            return (Double(Tensor.crossEntropy(logits.reshaped([-1, tokenizer.vocabularySize]), targets: targets).item()), nil)
        }
    }

    func saveArtifacts(_ directory: URL) throws {
        try AtomicFile.write(tokenizer.jsonData(), to: directory.appendingPathComponent("vocab.json"))
    }
}
