// Training cost estimator: FLOPs after Kaplan et al. (2020), time at a
// throughput measured here (or given), energy (RAPL or --watts), CO₂ and
// price; plus a meter that summarises a real training run at its end.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// What the cost formula needs to know about a model.
public struct ModelShape: Sendable, Equatable, Codable {
    /// N: non-embedding parameters (token and position embeddings excluded, as in Kaplan et al.).
    public var parameters: Int
    /// Every parameter, embeddings included.
    public var totalParameters: Int
    /// n_layer (0 for a model without attention).
    public var layers: Int
    /// n_ctx: tokens per sequence (0 without attention).
    public var contextLength: Int
    /// d_model (= d_attn here).
    public var dimensions: Int
    /// Vocabulary size of a GPT (nil when unknown).
    public var vocabularySize: Int?

    /// A shape; `totalParameters` defaults to `parameters`.
    public init(parameters: Int, totalParameters: Int? = nil, layers: Int = 0, contextLength: Int = 0,
                dimensions: Int = 0, vocabularySize: Int? = nil) {
        self.parameters = parameters; self.totalParameters = totalParameters ?? parameters
        self.layers = layers; self.contextLength = contextLength; self.dimensions = dimensions
        self.vocabularySize = vocabularySize
    }

    /// True when the attention term applies (layers, context and width known).
    public var hasAttention: Bool { layers > 0 && contextLength > 0 && dimensions > 0 }

    /// The shape from parameter names and shapes (a checkpoint's tensors).
    ///
    /// Names under "model." (an `anneal train` checkpoint) are used with the
    /// prefix removed and "optim." entries ignored. GPT names give
    /// n_layer = 1 + the largest N in "blocks.N.", d_model = the width of
    /// "tok.weight" (or "lnf.weight"), n_ctx = the rows of "pos.weight" and
    /// the vocabulary = the rows of "tok.weight"; "tok.*" and "pos.*" are
    /// embeddings. Any other model counts every parameter in N, with no attention term.
    public init(namedShapes: [(String, [Int])]) {
        var entries = namedShapes
        if entries.contains(where: { $0.0.hasPrefix("model.") }) {
            entries = entries.filter { $0.0.hasPrefix("model.") }.map { (String($0.0.dropFirst(6)), $0.1) }
        }
        let count: ([Int]) -> Int = { $0.reduce(1, *) }
        let total = entries.reduce(0) { $0 + count($1.1) }
        let shapes = Dictionary(entries, uniquingKeysWith: { a, _ in a })
        let blockIndices = entries.compactMap { name, _ -> Int? in
            guard name.hasPrefix("blocks.") else { return nil }
            return Int(name.dropFirst(7).prefix { $0.isNumber })
        }
        guard let lastBlock = blockIndices.max() else {
            self.init(parameters: total)
            return
        }
        let embedding = entries.filter { $0.0.hasPrefix("tok.") || $0.0.hasPrefix("pos.") }.reduce(0) { $0 + count($1.1) }
        let width = shapes["tok.weight"].flatMap { $0.count == 2 ? $0[1] : nil } ?? shapes["lnf.weight"]?.first ?? 0
        self.init(parameters: total - embedding, totalParameters: total, layers: lastBlock + 1,
                  contextLength: shapes["pos.weight"]?.first ?? 0, dimensions: width,
                  vocabularySize: shapes["tok.weight"]?.first)
    }

    /// The shape of a module: a `GPT` by its config (embeddings excluded from
    /// N), any other module with every parameter in N and no attention term.
    public init(module: Module) {
        let named = module.namedParameters().map { ($0.0, $0.1.shape) }
        if let gpt = module as? GPT {
            self.init(namedShapes: named)
            layers = gpt.config.layerCount; contextLength = gpt.config.contextLength
            dimensions = gpt.config.dimensions; vocabularySize = gpt.config.vocabularySize
        } else {
            let total = named.reduce(0) { $0 + $1.1.reduce(1, *) }
            self.init(parameters: total)
        }
    }
}

/// Training FLOPs and the cost estimate built on them.
public enum TrainingCost {
    /// Forward FLOPs per token (Kaplan et al. 2020, Table 1): 2N + 2·n_layer·n_ctx·d_model.
    public static func forwardFlopsPerItem(_ shape: ModelShape) -> Double {
        2 * Double(shape.parameters) + (shape.hasAttention ? 2 * Double(shape.layers * shape.contextLength * shape.dimensions) : 0)
    }

    /// Training FLOPs for D items: C ≈ 6·N·D + 6·n_layer·n_ctx·d_model·D
    /// (training ≈ 3× the forward pass). The attention term is Kaplan's, which
    /// counts the causal half of the score and value products; the profiler's
    /// `attentionFlops` counts the full products, twice this term.
    public static func flops(_ shape: ModelShape, items: Double) -> Double {
        3 * forwardFlopsPerItem(shape) * items
    }

    /// The estimate for training `shape` on `items` items at `itemsPerSecond`,
    /// drawing `watts` (nil: energy unknown), at `gridIntensity` g CO₂/kWh and
    /// `pricePerHour` (currency units per hour of the machine).
    public static func estimate(shape: ModelShape, items: Double, itemsPerSecond: Double, throughputSource: String,
                                watts: Double?, energySource: String, gridIntensity: Double? = nil,
                                pricePerHour: Double? = nil, notes: [String] = []) -> CostEstimate {
        let seconds = itemsPerSecond > 0 ? items / itemsPerSecond : .infinity
        return CostEstimate(shape: shape, items: items, flops: flops(shape, items: items), seconds: seconds,
                            itemsPerSecond: itemsPerSecond, throughputSource: throughputSource,
                            joules: watts.map { $0 * seconds }, energySource: energySource,
                            gridIntensity: gridIntensity, pricePerHour: pricePerHour, notes: notes)
    }
}

/// Time, energy, CO₂ and price of a training run.
public struct CostEstimate: Sendable, Equatable {
    /// The model.
    public var shape: ModelShape
    /// D: tokens (or samples) trained on.
    public var items: Double
    /// C = 6·N·D + 6·n_layer·n_ctx·d_model·D.
    public var flops: Double
    /// Wall time in seconds (items / itemsPerSecond).
    public var seconds: Double
    /// Training throughput in items per second.
    public var itemsPerSecond: Double
    /// How the throughput was obtained.
    public var throughputSource: String
    /// Energy in joules (nil: unknown).
    public var joules: Double?
    /// How the energy was obtained ("RAPL", "--watts 65", "unknown").
    public var energySource: String
    /// g CO₂ per kWh, and price per hour, if given.
    public var gridIntensity: Double?, pricePerHour: Double?
    /// Caveats (RAPL fallbacks, assumptions).
    public var notes: [String]

    /// joules / 3.6·10⁶.
    public var kilowattHours: Double? { joules.map { $0 / 3.6e6 } }
    /// kWh × grid intensity, in grams.
    public var co2Grams: Double? { kilowattHours.flatMap { k in gridIntensity.map { k * $0 } } }
    /// hours × price per hour.
    public var price: Double? { pricePerHour.map { $0 * seconds / 3600 } }
    /// Mean power in watts.
    public var watts: Double? { joules.flatMap { seconds > 0 && seconds.isFinite ? $0 / seconds : nil } }

    /// A few lines for people.
    public func summary() -> String {
        var lines: [String] = []
        var model = "N = \(shape.parameters) non-embedding parameters (\(shape.totalParameters) total)"
        if shape.hasAttention {
            model += ", n_layer \(shape.layers), n_ctx \(shape.contextLength), d_model \(shape.dimensions)"
        }
        lines.append("model: " + model)
        lines.append(String(format: "training compute: C = %.4g FLOP for D = %.4g items (6ND%@)", flops, items,
                            (shape.hasAttention ? " + 6·n_layer·n_ctx·d_model·D" : "") as NSString))
        lines.append(String(format: "time: %@ at %.4g items/s (%@)", formatDuration(seconds) as NSString, itemsPerSecond,
                            throughputSource as NSString))
        if let joules, let kwh = kilowattHours {
            lines.append(String(format: "energy: %.4g kWh (%.4g J, %@%@)", kwh, joules,
                                watts.map { String(format: "%.1f W, ", $0) } ?? "", energySource as NSString))
        } else {
            lines.append("energy: unknown (\(energySource))")
        }
        if let g = co2Grams, let gi = gridIntensity {
            lines.append(String(format: "CO₂: %.4g g at %g g/kWh", g, gi))
        } else {
            lines.append("CO₂: " + (gridIntensity == nil ? "pass --grid-intensity (g/kWh)" : "unknown without energy"))
        }
        if let price, let pph = pricePerHour {
            lines.append(String(format: "cost: %.4g at %g per hour", price, pph))
        }
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }

    /// One JSON object with every figure (null where unknown).
    public func json() -> String {
        func opt(_ x: Double?) -> String { x.map { JSONText.number($0) } ?? "null" }
        return JSONText.object([
            ("parameters", String(shape.parameters)), ("total_parameters", String(shape.totalParameters)),
            ("n_layer", String(shape.layers)), ("n_ctx", String(shape.contextLength)), ("d_model", String(shape.dimensions)),
            ("items", JSONText.number(items)), ("flops", JSONText.number(flops)), ("seconds", JSONText.number(seconds)),
            ("items_per_s", JSONText.number(itemsPerSecond)), ("throughput_source", JSONText.string(throughputSource)),
            ("joules", opt(joules)), ("kwh", opt(kilowattHours)), ("watts", opt(watts)),
            ("energy_source", JSONText.string(energySource)), ("grid_g_per_kwh", opt(gridIntensity)),
            ("co2_g", opt(co2Grams)), ("price_per_hour", opt(pricePerHour)), ("price", opt(price)),
            ("notes", "[" + notes.map(JSONText.string).joined(separator: ", ") + "]"),
        ])
    }
}

/// Options shared by `anneal cost` and the end-of-run summary.
public struct CostOptions: Sendable {
    /// Power draw to assume when RAPL is unreadable.
    public var watts: Double?
    /// g CO₂ per kWh.
    public var gridIntensity: Double?
    /// Price per hour of the machine.
    public var pricePerHour: Double?
    /// Powercap root (default `RAPL.defaultRoot()`).
    public var raplRoot: URL?

    /// Options; nil leaves a figure unknown.
    public init(watts: Double? = nil, gridIntensity: Double? = nil, pricePerHour: Double? = nil, raplRoot: URL? = nil) {
        self.watts = watts; self.gridIntensity = gridIntensity; self.pricePerHour = pricePerHour; self.raplRoot = raplRoot
    }
}

/// Measures a real run for its end-of-run summary: start it before training,
/// then `finish(shape:items:)` gives the estimate with the run's own time,
/// throughput and energy (RAPL delta, else --watts × time).
///
///     let meter = CostMeter(CostOptions(watts: 65))
///     … train on `tokens` tokens …
///     print(meter.finish(shape: ModelShape(module: model), items: Double(tokens)).summary())
public struct CostMeter: Sendable {
    let options: CostOptions
    let energy: EnergyMeter

    /// Starts the clock and the energy counters.
    public init(_ options: CostOptions = CostOptions()) {
        self.options = options
        energy = EnergyMeter(rapl: RAPL(root: options.raplRoot), fallbackWatts: options.watts)
    }

    /// The run's cost so far, for `items` items processed.
    public func finish(shape: ModelShape, items: Double) -> CostEstimate {
        let m = energy.finish()
        var estimate = TrainingCost.estimate(
            shape: shape, items: items, itemsPerSecond: m.seconds > 0 ? items / m.seconds : 0,
            throughputSource: "this run", watts: nil, energySource: m.source.label,
            gridIntensity: options.gridIntensity, pricePerHour: options.pricePerHour, notes: m.note.map { [$0] } ?? [])
        estimate.seconds = m.seconds
        estimate.joules = m.joules
        return estimate
    }
}

extension EnergyMeter.Source {
    /// "RAPL", "--watts 65 W", "unknown".
    public var label: String {
        switch self {
        case .rapl: "RAPL"
        case .assumedWatts(let w): "--watts \(formatNumber(w)) W"
        case .unknown: "no RAPL and no --watts"
        }
    }
}

/// Measures throughput on this machine.
public enum ThroughputProbe {
    /// A measured rate.
    public struct Result: Sendable {
        /// Items (tokens or samples) per second of the probed model.
        public var itemsPerSecond: Double
        /// Kaplan training FLOPs per second of the probed model (6N + attention term per item).
        public var flopsPerSecond: Double
        /// Energy over the timed steps.
        public var energy: EnergyMeter.Measurement
        /// What was run.
        public var description: String
    }

    /// Times `steps` AdamW training steps (after one warm-up) of a GPT with
    /// `config` on `batch` random sequences of full context length.
    public static func gpt(_ config: GPTConfig, batch: Int = 1, steps: Int = 2, rapl: RAPL = RAPL(),
                           fallbackWatts: Double? = nil) -> Result {
        let model = GPT(config)
        let opt = AdamW(parameters: model.trainableParameters(), learningRate: 1e-4)
        var rng = RandomGenerator(seed: 3)
        let t = config.contextLength
        let ids = (0..<(batch * t)).map { _ in rng.nextInt(config.vocabularySize) }
        let targets = (0..<(batch * t)).map { _ in rng.nextInt(config.vocabularySize) }
        func step() {
            opt.zeroGrad()
            let loss = Tensor.crossEntropy(model(ids, batch: batch).reshaped([-1, config.vocabularySize]), targets: targets)
            loss.backward()
            opt.step()
        }
        step()
        let meter = EnergyMeter(rapl: rapl, fallbackWatts: fallbackWatts)
        for _ in 0..<max(1, steps) { step() }
        let m = meter.finish()
        let items = Double(max(1, steps) * batch * t)
        let perItem = 3 * TrainingCost.forwardFlopsPerItem(ModelShape(module: model))
        return Result(itemsPerSecond: items / m.seconds, flopsPerSecond: perItem * items / m.seconds, energy: m,
                      description: "GPT L\(config.layerCount) d\(config.dimensions) T\(t) V\(config.vocabularySize) "
                                   + "h\(config.headCount), batch \(batch), \(max(1, steps)) timed steps")
    }

    /// Times `steps` SGD training steps of a two-layer MLP `width`→`width`→`width`
    /// on a batch of 256 (dense GEMMs only); its rate stands in for models known
    /// only by parameter count.
    public static func dense(width: Int = 1024, steps: Int = 3, rapl: RAPL = RAPL(), fallbackWatts: Double? = nil) -> Result {
        let model = Sequential([Linear(width, width), ReLU(), Linear(width, width)])
        let opt = SGD(parameters: model.trainableParameters(), learningRate: 1e-3)
        let x = Tensor.randn([256, width], seed: 4)
        let targets = (0..<256).map { $0 % width }
        func step() {
            opt.zeroGrad()
            let loss = Tensor.crossEntropy(model(x), targets: targets)
            loss.backward()
            opt.step()
        }
        step()
        let meter = EnergyMeter(rapl: rapl, fallbackWatts: fallbackWatts)
        for _ in 0..<max(1, steps) { step() }
        let m = meter.finish()
        let items = Double(max(1, steps) * 256)
        let perItem = 3 * TrainingCost.forwardFlopsPerItem(ModelShape(module: model))
        return Result(itemsPerSecond: items / m.seconds, flopsPerSecond: perItem * items / m.seconds, energy: m,
                      description: "dense MLP \(width)×\(width)×2, batch 256, \(max(1, steps)) timed steps")
    }
}

/// "3 h 12 min", "4.2 s", "2.1 days".
public func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "∞" }
    if s < 120 { return String(format: "%.3g s", s) }
    if s < 7200 { return String(format: "%.1f min", s / 60) }
    if s < 2 * 86400 { return String(format: "%.1f h", s / 3600) }
    if s < 2 * 365 * 86400 { return String(format: "%.1f days", s / 86400) }
    return String(format: "%.1f years", s / (365.25 * 86400))
}
