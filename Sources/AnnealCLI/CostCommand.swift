// `anneal cost`: estimate the compute (Kaplan et al. 2020), time, energy, CO₂
// and price of training a model given by shape flags or a checkpoint.

import Anneal
import AnnealData
import AnnealNN
import AnnealProfile
import ArgumentParser
import Foundation

struct CostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost", abstract: "Estimate the time, energy, CO₂ and cost of a training run.",
        discussion: """
        C = 6·N·D + 6·n_layer·n_ctx·d_model·D with N the non-embedding parameters. The throughput is \
        measured here (a few training steps of a GPT of the given shape, or of a dense MLP when only N is \
        known) unless --throughput is given. Energy comes from RAPL counters (--rapl-root, \
        $ANNEAL_RAPL_ROOT, default /sys/class/powercap) read during that measurement, else --watts.
        """)

    @Option(help: "A safetensors checkpoint to read the parameter count and GPT shape from.")
    var checkpoint: String?

    @Option(help: "N: non-embedding parameter count (e.g. 85e6).")
    var parameters: Double?

    @Option(help: "n_layer.")
    var layers: Int?

    @Option(help: "n_ctx: tokens per sequence.")
    var context: Int?

    @Option(name: .customLong("d-model"), help: "d_model.")
    var dModel: Int?

    @Option(help: "Vocabulary size for the throughput measurement of a GPT shape given by flags.")
    var vocab = 256

    @Option(help: "Attention heads for the throughput measurement (default: d_model/64, at least 1).")
    var heads: Int?

    @Option(help: "Training tokens D.")
    var tokens: Double?

    @Option(help: "Training samples (sequences of n_ctx tokens for a GPT; D = samples × n_ctx).")
    var samples: Double?

    @Option(help: "Items (tokens, or samples for a model without attention) per second; skips the measurement.")
    var throughput: Double?

    @Option(help: "Sequences per step when measuring a GPT's throughput.")
    var batch = 1

    @Option(help: "Power draw in watts to assume when RAPL is unreadable.")
    var watts: Double?

    @Option(name: .customLong("rapl-root"), help: "Powercap directory (default: $ANNEAL_RAPL_ROOT, else /sys/class/powercap).")
    var raplRoot: String?

    @Option(name: .customLong("grid-intensity"), help: "Grid carbon intensity in g CO₂ per kWh.")
    var gridIntensity: Double?

    @Option(name: .customLong("price-per-hour"), help: "Price of the machine per hour.")
    var pricePerHour: Double?

    @Flag(help: "Print the estimate as one JSON object.")
    var json = false

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        var shape = try modelShape()
        for (name, v) in [("--watts", watts), ("--grid-intensity", gridIntensity), ("--price-per-hour", pricePerHour),
                          ("--throughput", throughput)] {
            if let v, !(v.isFinite && v >= 0) { throw ValidationError("\(name) must be a non-negative number, got \(v)") }
        }
        if throughput == 0 { throw ValidationError("--throughput must be positive") }
        guard (tokens == nil) != (samples == nil) else { throw ValidationError("give exactly one of --tokens or --samples") }
        let items: Double
        if let tokens { items = tokens } else {
            items = samples! * Double(shape.hasAttention ? shape.contextLength : 1)
        }
        guard items.isFinite && items > 0 else { throw ValidationError("--tokens / --samples must be positive") }
        if shape.hasAttention && shape.vocabularySize == nil { shape.vocabularySize = vocab }

        let rapl = RAPL(root: raplRoot.map { URL(fileURLWithPath: $0, isDirectory: true) })
        var notes: [String] = []
        let itemsPerSecond: Double, source: String
        var probeEnergy: EnergyMeter.Measurement? = nil
        if let throughput {
            itemsPerSecond = throughput; source = "given"
        } else {
            // Kaplan FLOPs per second measured on a probe model, applied to this model's C.
            let (probe, note) = measure(shape, rapl: rapl)
            if let note { notes.append(note) }
            probeEnergy = probe.energy
            itemsPerSecond = probe.flopsPerSecond / (3 * TrainingCost.forwardFlopsPerItem(shape))
            source = String(format: "measured: %.3g GFLOP/s on %@", probe.flopsPerSecond / 1e9, probe.description as NSString)
        }
        // Power: RAPL over the measurement, else --watts. With a given throughput,
        // RAPL (when readable) is read over a short dense training probe.
        let energy: EnergyMeter.Measurement
        if let probeEnergy { energy = probeEnergy } else if case .success = rapl.read() {
            energy = ThroughputProbe.dense(rapl: rapl, fallbackWatts: watts).energy
            notes.append("power measured by RAPL over a dense training probe")
        } else {
            energy = EnergyMeter(rapl: rapl, fallbackWatts: watts).finish()
        }
        if let note = energy.note { notes.append(note) }
        let estimate = TrainingCost.estimate(shape: shape, items: items, itemsPerSecond: itemsPerSecond, throughputSource: source,
                                             watts: energy.watts, energySource: energy.source.label,
                                             gridIntensity: gridIntensity, pricePerHour: pricePerHour, notes: notes)
        print(json ? estimate.json() : estimate.summary())
    }

    /// The shape from --checkpoint, else from the flags.
    func modelShape() throws -> ModelShape {
        if let checkpoint {
            guard parameters == nil else { throw ValidationError("give either --checkpoint or --parameters, not both") }
            let url = URL(fileURLWithPath: checkpoint)
            do {
                let file = try SafeTensorsFile(contentsOf: url)
                var shape = ModelShape(namedShapes: file.tensors.map { ($0.key, $0.value.shape) })
                if let layers { shape.layers = layers }
                if let context { shape.contextLength = context }
                if let dModel { shape.dimensions = dModel }
                return shape
            } catch {
                printError("error: \(checkpoint): \(error)")
                throw ExitCode(1)
            }
        }
        guard let parameters, parameters.isFinite, parameters >= 1 else {
            throw ValidationError("give --parameters N (non-embedding parameters) or --checkpoint FILE")
        }
        let given = [layers, context, dModel].compactMap { $0 }
        guard given.isEmpty || given.count == 3, given.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--layers, --context and --d-model go together and must be positive")
        }
        return ModelShape(parameters: Int(parameters), layers: layers ?? 0, contextLength: context ?? 0, dimensions: dModel ?? 0)
    }

    /// Training throughput on this machine: a GPT of the shape when it is
    /// known and small enough to build here (≤ 50 M parameters), else a dense MLP.
    func measure(_ shape: ModelShape, rapl: RAPL) -> (ThroughputProbe.Result, note: String?) {
        guard shape.hasAttention, let v = shape.vocabularySize else {
            return (ThroughputProbe.dense(rapl: rapl, fallbackWatts: watts), nil)
        }
        guard shape.totalParameters <= 50_000_000 else {
            return (ThroughputProbe.dense(rapl: rapl, fallbackWatts: watts),
                    "the model is too large to time here; the dense MLP's FLOP rate stands in (pass --throughput for a measured one)")
        }
        let d = shape.dimensions
        var h = heads ?? max(1, d / 64)
        if d % h != 0 { h = 1 }
        let cfg = GPTConfig(vocabularySize: v, contextLength: shape.contextLength, dimensions: d,
                            layerCount: shape.layers, headCount: h)
        return (ThroughputProbe.gpt(cfg, batch: max(1, batch), rapl: rapl, fallbackWatts: watts), nil)
    }
}
