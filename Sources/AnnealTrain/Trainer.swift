// The `anneal train` run: a classifier MLP on a CSV (the embedded digits set
// by default) or a character GPT on a text file, with metrics (JSONL), a
// loss-curve SVG, periodic atomic checkpoints and exact resumption.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation

/// Everything that defines a training run (saved in every checkpoint).
public struct TrainConfig: Codable, Sendable, Equatable {
    /// "mlp" (classifier on a CSV) or "gpt" (character language model on a text file).
    public var model = "mlp"
    /// CSV file for the MLP; nil = the embedded digits set.
    public var data: String?
    /// Label column name or 0-based index (default: `label`, else the last column).
    public var labelColumn: String?
    /// UTF-8 text file for the GPT.
    public var text: String?
    /// Hidden layer sizes of the MLP.
    public var hidden = [128]
    public var epochs = 30
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    /// "adam", "adamw" or "sgd" (momentum 0.9).
    public var optimizer = "adam"
    public var weightDecay: Float = 0
    public var seed: UInt64 = 0
    public var validationFraction = 0.2
    /// Save a checkpoint every N optimizer steps (0: at the end of each epoch only).
    public var saveEvery = 0
    // GPT shape and sampling of windows.
    public var contextLength = 64
    public var dimensions = 128
    public var layers = 4
    public var heads = 4
    public var stepsPerEpoch = 100

    public init() {}
}

/// The outcome of a run.
public struct TrainSummary: Sendable {
    /// Final validation accuracy (MLP) or nil.
    public var validationAccuracy: Double?
    /// Final validation loss.
    public var validationLoss: Double
    public var steps: Int
    /// Items (samples or tokens) per second over the training steps of this process.
    public var itemsPerSecond: Double
    /// Items processed by this process, and the wall time of its training steps.
    public var items: Int
    public var seconds: Double
    /// Model parameter count.
    public var parameters: Int
    /// Training FLOPs per item (forward + backward ≈ 6 × parameters for dense layers).
    public var flopsPerItem: Double
}

/// A run stopped on bad numbers or bad input.
public struct TrainError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One training run. Create it with a config and an output directory, then `run()`.
public final class Trainer {
    public let config: TrainConfig
    public let outDirectory: URL
    /// Human-readable progress (one line per call).
    public var log: (String) -> Void = { print($0) }
    /// Called after every step with (step in epoch, steps per epoch, loss).
    public var progress: ((Int, Int, Float) -> Void)?
    /// Runs between writing the checkpoint's temp file and renaming it (for tests).
    public var beforeCheckpointRename: ((URL) throws -> Void)?
    /// Wraps each optimizer step (forward, backward, update), e.g. to profile it.
    public var wrapStep: ((() -> Void) -> Void)?

    let task: TrainingTask
    let optimizer: Optimizer
    var state = TrainingState()
    var metrics: MetricsLog

    /// Builds the model, data and optimizer; with `resume`, loads the checkpoint
    /// there (its model must have the same architecture: mismatches are listed).
    public init(config: TrainConfig, outDirectory: URL, resume: URL? = nil) throws {
        self.config = config
        self.outDirectory = outDirectory
        GlobalRandom.seed(config.seed)
        task = config.model == "gpt" ? try TextTask(config) : try ClassifierTask(config)
        let params = task.module.trainableParameters()
        switch config.optimizer.lowercased() {
        case "adam": optimizer = Adam(parameters: params, learningRate: config.learningRate, weightDecay: config.weightDecay)
        case "adamw": optimizer = AdamW(parameters: params, learningRate: config.learningRate, weightDecay: config.weightDecay)
        case "sgd": optimizer = SGD(parameters: params, learningRate: config.learningRate, momentum: 0.9, weightDecay: config.weightDecay)
        default: throw TrainError("unknown optimizer '\(config.optimizer)' (adam, adamw, sgd)")
        }
        try FileManager.default.createDirectory(at: outDirectory, withIntermediateDirectories: true)
        metrics = try MetricsLog(url: outDirectory.appendingPathComponent("metrics.jsonl"))
        if let resume {
            let (saved, _) = try Checkpoint.load(from: resume, model: task.module, optimizer: optimizer)
            state = saved
            if !saved.random.isEmpty { GlobalRandom.generator.state = saved.random }
            try metrics.truncate(afterStep: saved.step, beforeEpoch: saved.epoch)
        } else {
            try metrics.reset()
        }
        try task.saveArtifacts(outDirectory)
    }

    /// Trains to the configured number of epochs; returns the summary.
    public func run() throws -> TrainSummary {
        let configJSON = try sortedJSON(config)
        var items = 0
        var seconds = 0.0
        var lastValidation: (loss: Double, accuracy: Double?) = (.nan, nil)
        while state.epoch < config.epochs {
            let batches = task.batches(epoch: state.epoch, batchSize: config.batchSize, seed: config.seed)
            let epochStart = DispatchTime.now().uptimeNanoseconds
            var epochItems = 0
            while state.batchInEpoch < batches.count {
                let t0 = DispatchTime.now().uptimeNanoseconds
                var value: Float = 0, count = 0
                let batch = batches[state.batchInEpoch]
                let step = {
                    self.optimizer.zeroGrad()
                    let (loss, n) = ProfileScope.withPhase(.forward) { self.task.loss(batch: batch) }
                    value = loss.item(); count = n
                    guard value.isFinite else { return }
                    ProfileScope.withPhase(.backward) { loss.backward() }
                    ProfileScope.withPhase(.optimizer) { self.optimizer.step() }
                }
                if let wrapStep { wrapStep(step) } else { step() }
                guard value.isFinite else {
                    throw TrainError("loss is \(value) at step \(state.step + 1) (epoch \(state.epoch + 1)); training stopped. "
                                     + "The last good checkpoint is \(outDirectory.appendingPathComponent(Checkpoint.fileName).path)")
                }
                seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                items += count; epochItems += count
                state.step += 1
                state.batchInEpoch += 1
                try metrics.write(["type": "step", "step": state.step, "epoch": state.epoch + 1, "loss": Double(value),
                                   "lr": Double(optimizer.groups[0].learningRate)])
                progress?(state.batchInEpoch, batches.count, value)
                if config.saveEvery > 0 && state.step % config.saveEvery == 0 { try save(configJSON) }
            }
            let epochSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) * 1e-9
            lastValidation = task.validate()
            var record: [String: Any] = ["type": "epoch", "epoch": state.epoch + 1, "step": state.step,
                                         "val_loss": lastValidation.loss, "items_per_s": Double(epochItems) / max(epochSeconds, 1e-9)]
            if let a = lastValidation.accuracy { record["val_accuracy"] = a }
            try metrics.write(record)
            log(String(format: "epoch %d/%d  val_loss %.4f", state.epoch + 1, config.epochs, lastValidation.loss)
                + (lastValidation.accuracy.map { String(format: "  val_accuracy %.4f", $0) } ?? "")
                + String(format: "  %.0f %@/s", Double(epochItems) / max(epochSeconds, 1e-9), task.itemName as NSString))
            state.epoch += 1
            state.batchInEpoch = 0
            state.lastValidation = lastValidation.accuracy ?? lastValidation.loss
            try save(configJSON)
        }
        if lastValidation.loss.isNaN { lastValidation = task.validate() }
        try LossCurve.write(metrics: metrics.url, to: outDirectory.appendingPathComponent("loss_curve.svg"))
        let n = task.module.parameterCount
        return TrainSummary(validationAccuracy: lastValidation.accuracy, validationLoss: lastValidation.loss, steps: state.step,
                            itemsPerSecond: Double(items) / max(seconds, 1e-9), items: items, seconds: seconds,
                            parameters: n, flopsPerItem: task.flopsPerItem)
    }

    func save(_ configJSON: Data) throws {
        state.random = GlobalRandom.generator.state
        try Checkpoint.save(to: outDirectory, model: task.module, optimizer: optimizer, state: state, config: configJSON,
                            beforeRename: beforeCheckpointRename)
    }

    /// The trained model.
    public var model: Module { task.module }
}

/// Appends JSON lines and can cut the log back to a checkpoint's step.
final class MetricsLog {
    let url: URL
    private var handle: FileHandle?

    init(url: URL) throws { self.url = url }

    func reset() throws {
        try Data().write(to: url)
        handle = try FileHandle(forWritingTo: url)
    }

    /// Keeps only the records a checkpoint at (step, epoch) had already produced
    /// (a run killed after writing a record but before saving redoes it).
    func truncate(afterStep step: Int, beforeEpoch epoch: Int) throws {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        var kept: [String] = []
        for line in text.split(separator: "\n") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let type = obj["type"] as? String else { continue }   // a torn last line
            if type == "step", let s = obj["step"] as? Int, s <= step { kept.append(String(line)) }
            if type == "epoch", let e = obj["epoch"] as? Int, e <= epoch { kept.append(String(line)) }
        }
        try AtomicFile.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: url)
        handle = try FileHandle(forWritingTo: url)
        try handle?.seekToEnd()
    }

    func write(_ record: [String: Any]) throws {
        var line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        line.append(0x0A)
        try handle?.write(contentsOf: line)
    }
}
