// `anneal train`: trains an MLP on a CSV (the embedded digits set by
// default) or a character GPT on a text file, with progress, metrics,
// a loss curve, atomic checkpoints and `--resume`.

import Anneal
import AnnealData
import AnnealNN
import AnnealProfile
import AnnealTrain
import ArgumentParser
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model (default: an MLP on the embedded digits set).")

    @Option(help: "CSV file: numeric columns, label column `label` or the last one.") var data: String?
    @Option(help: "Label column of the CSV, by name or 0-based index.") var labelColumn: String?
    @Option(help: "Model: mlp (classifier on --data) or gpt (character LM on --text).") var model = "mlp"
    @Option(help: "UTF-8 text file for --model gpt.") var text: String?
    @Option(help: "Epochs (default: 30 for mlp, 5 for gpt).") var epochs: Int?
    @Option(help: "Batch size.") var batchSize: Int?
    @Option(help: "Learning rate (default: 1e-3 for mlp, 3e-4 for gpt).") var lr: Float?
    @Option(help: "Optimizer: adam, adamw or sgd.") var optimizer: String?
    @Option(help: "Weight decay.") var weightDecay: Float?
    @Option(help: "Hidden layer sizes of the MLP, comma-separated.") var hidden: String?
    @Option(help: "Random seed (weights, data order).") var seed: UInt64 = 0
    @Option(help: "Save a checkpoint every N steps (0: each epoch).") var saveEvery: Int = 0
    @Option(help: "GPT: context length, width, layers, heads, steps per epoch.") var context: Int?
    @Option var dimensions: Int?
    @Option var layers: Int?
    @Option var heads: Int?
    @Option var stepsPerEpoch: Int?
    @Option(help: "Resume from the checkpoint in this directory.") var resume: String?
    @Option(help: "Output directory (default: the --resume directory, else runs/<model>).") var out: String?
    @Flag(help: "Profile every step: per-op table, FLOPs, MFU and totals at the end.") var profile = false
    @Option(help: "With --profile: write a Chrome trace here (checked before training starts).") var trace: String?
    @Option(help: "Power draw for the cost summary when RAPL is unreadable (W).") var watts: Double?
    @Option(help: "Grid carbon intensity for the cost summary (g CO2/kWh).") var gridIntensity: Double?
    @Option(help: "Machine price for the cost summary (per hour).") var pricePerHour: Double?
    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        let traceURL = trace.map { URL(fileURLWithPath: $0) }
        if let traceURL {
            guard profile else { throw ValidationError("--trace needs --profile") }
            do { try validateTracePath(traceURL) } catch { printError("error: \(error)"); throw ExitCode(1) }
        }
        var config = TrainConfig()
        config.model = model
        guard ["mlp", "gpt"].contains(model) else { throw ValidationError("--model must be mlp or gpt, got '\(model)'") }
        config.data = data; config.labelColumn = labelColumn; config.text = text
        config.epochs = epochs ?? (model == "gpt" ? 5 : 30)
        config.batchSize = batchSize ?? 32
        config.learningRate = lr ?? (model == "gpt" ? 3e-4 : 1e-3)
        config.optimizer = optimizer ?? (model == "gpt" ? "adamw" : "adam")
        config.weightDecay = weightDecay ?? 0
        if let hidden {
            let sizes = hidden.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--hidden must be positive sizes like 128,64") }
            config.hidden = sizes
        }
        config.seed = seed; config.saveEvery = saveEvery
        if let context { config.contextLength = context }
        if let dimensions { config.dimensions = dimensions }
        if let layers { config.layers = layers }
        if let heads { config.heads = heads }
        if let stepsPerEpoch { config.stepsPerEpoch = stepsPerEpoch }
        guard config.epochs > 0, config.batchSize > 0 else { throw ValidationError("--epochs and --batch-size must be positive") }

        let outDir = URL(fileURLWithPath: out ?? resume ?? "runs/\(model)")
        do {
            let trainer = try Trainer(config: config, outDirectory: outDir, resume: resume.map { URL(fileURLWithPath: $0) })
            if let ms = ProcessInfo.processInfo.environment["ANNEAL_TEST_CHECKPOINT_DELAY_MS"].flatMap(Double.init) {
                trainer.beforeCheckpointRename = { _ in usleep(useconds_t(ms * 1000)) }   // test hook: widen the save window
            }
            let bar = ProgressBar()
            trainer.progress = { done, total, loss in bar.update(done: done, total: total, loss: loss) }
            trainer.log = { bar.clear(); print($0) }
            let profiler = profile ? Profiler() : nil
            if let profiler { trainer.wrapStep = { body in profiler.step(body) } }
            let meter = CostMeter(CostOptions(watts: watts, gridIntensity: gridIntensity, pricePerHour: pricePerHour))
            let summary = try profiler.map { p in try p.run { try trainer.run() } } ?? trainer.run()
            bar.clear()
            if let acc = summary.validationAccuracy {
                print(String(format: "validation accuracy: %.4f", acc))
            } else {
                print(String(format: "validation loss: %.4f", summary.validationLoss))
            }
            print("checkpoint: \(outDir.appendingPathComponent(Checkpoint.fileName).path)")
            print("metrics: \(outDir.appendingPathComponent("metrics.jsonl").path)  loss curve: \(outDir.appendingPathComponent("loss_curve.svg").path)")
            print(String(format: "throughput: %.0f items/s over %d steps (%.2f s)", summary.itemsPerSecond, summary.steps, summary.seconds))
            if let profiler {
                let report = profiler.report()
                let peak = PeakFlops.cachedOrMeasured().measurement.gflops
                print(report.table(limit: 20, peakGFLOPS: peak))
                if let traceURL { try report.writeChromeTrace(to: traceURL); print("trace: \(traceURL.path)") }
            }
            print(meter.finish(shape: ModelShape(module: trainer.model), items: Double(summary.items)).summary())
        } catch let e as ValidationError {
            throw e
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// A one-line progress bar on standard error when it is a terminal.
final class ProgressBar {
    let enabled = isatty(STDERR_FILENO) != 0
    var shown = false
    var start = DispatchTime.now().uptimeNanoseconds
    var lastTotal = 0

    func update(done: Int, total: Int, loss: Float) {
        guard enabled else { return }
        if done == 1 || total != lastTotal { start = DispatchTime.now().uptimeNanoseconds; lastTotal = total }
        let width = 30, filled = width * done / max(total, 1)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            + String(format: " %d/%d loss %.4f %.1f steps/s", done, total, loss, Double(done) / max(elapsed, 1e-9))
        FileHandle.standardError.write(Data(("\r" + line).utf8))
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 79) + "\r").utf8))
        shown = false
    }
}
