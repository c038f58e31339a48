// The training cost estimator (Kaplan formula, shapes from names and
// modules, energy/CO₂/price), RAPL reading from a fake powercap tree and its
// fallback, and the sgemm peak cache.

import Anneal
import AnnealNN
import AnnealProfile
import Foundation
import Testing
import _TestSupport

/// A fresh temporary directory, removed by the caller.
func temporaryDirectory(_ tag: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-\(tag)-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes a powercap zone directory with the given files.
func writeZone(_ root: URL, _ id: String, _ files: [String: String]) throws {
    let dir = root.appendingPathComponent(id)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files { try (text + "\n").write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
}

@Suite struct CostFormula {
    @Test func kaplanFlops() {
        let shape = ModelShape(parameters: 1000, layers: 2, contextLength: 8, dimensions: 4)
        let dense: Double = 6 * 1000 * 10, attention: Double = 6 * 2 * 8 * 4 * 10
        #expect(TrainingCost.flops(shape, items: 10) == dense + attention)
        let forward: Double = 2 * 1000 + 2 * 2 * 8 * 4
        #expect(TrainingCost.forwardFlopsPerItem(shape) == forward)
        #expect(TrainingCost.flops(ModelShape(parameters: 1000), items: 10) == 60_000)   // no attention term
    }

    @Test func shapeOfAGPTFromModuleAndNames() {
        let (v, t, d, l) = (65, 64, 128, 4)
        let gpt = GPT(GPTConfig(vocabularySize: v, contextLength: t, dimensions: d, layerCount: l, headCount: 4))
        let fromModule = ModelShape(module: gpt)
        // Per block 12d² + 13d (qkv, proj, fc, out with biases, two layer norms), final norm 2d, head d·V.
        #expect(fromModule.parameters == l * (12 * d * d + 13 * d) + 2 * d + d * v)
        #expect(fromModule.totalParameters == fromModule.parameters + v * d + t * d)
        #expect(fromModule.layers == l && fromModule.contextLength == t && fromModule.dimensions == d)
        #expect(fromModule.vocabularySize == v)
        // A training checkpoint stores "model.<name>" plus optimizer slots.
        var names = gpt.namedParameters().map { ("model." + $0.0, $0.1.shape) }
        names.append(("optim.tok.weight.exp_avg", [v, d]))
        #expect(ModelShape(namedShapes: names) == fromModule)
        #expect(ModelShape(namedShapes: gpt.namedParameters().map { ($0.0, $0.1.shape) }) == fromModule)
    }

    @Test func shapeOfAnMLPHasNoAttentionTerm() {
        let mlp = Sequential.mlp([784, 1024, 1024, 10])
        let s = ModelShape(namedShapes: mlp.namedParameters().map { ($0.0, $0.1.shape) })
        #expect(s.parameters == 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10)
        #expect(!s.hasAttention)
        #expect(ModelShape(module: mlp) == s)
    }

    @Test func energyCarbonAndPrice() {
        let shape = ModelShape(parameters: 1_000_000)
        let e = TrainingCost.estimate(shape: shape, items: 7200, itemsPerSecond: 2, throughputSource: "given",
                                      watts: 100, energySource: "--watts 100 W", gridIntensity: 400, pricePerHour: 3)
        #expect(e.seconds == 3600)
        #expect(e.flops == 6e6 * 7200)
        #expect(e.joules == 360_000)
        #expect(abs(e.kilowattHours! - 0.1) < 1e-12)
        #expect(abs(e.co2Grams! - 40) < 1e-9)
        #expect(abs(e.price! - 3) < 1e-12)
        #expect(abs(e.watts! - 100) < 1e-9)
        let unknown = TrainingCost.estimate(shape: shape, items: 10, itemsPerSecond: 1, throughputSource: "given",
                                            watts: nil, energySource: "no RAPL and no --watts", gridIntensity: 400)
        #expect(unknown.joules == nil && unknown.co2Grams == nil && unknown.price == nil)
        #expect(unknown.summary().contains("energy: unknown"))
        let obj = try? JSONSerialization.jsonObject(with: Data(e.json().utf8)) as? [String: Any]
        #expect((obj?["co2_g"] as? NSNumber)?.doubleValue == 40)
        #expect(obj?["joules"] != nil)
    }
}

@Suite struct RAPLCounters {
    @Test func readsPackageZonesAndHandlesWraparound() throws {
        let root = try temporaryDirectory("rapl")
        defer { try? FileManager.default.removeItem(at: root) }
        try writeZone(root, "intel-rapl:0", ["name": "package-0", "energy_uj": "1000000", "max_energy_range_uj": "262143328850"])
        try writeZone(root, "intel-rapl:0:0", ["name": "core", "energy_uj": "5"])          // subzone: ignored
        try writeZone(root, "intel-rapl:1", ["name": "package-1", "energy_uj": "2000000", "max_energy_range_uj": "10000000"])
        let rapl = RAPL(root: root)
        let first = try rapl.read().get()
        #expect(first.zones.map(\.id) == ["intel-rapl:0", "intel-rapl:1"])
        #expect(first.zones[0].name == "package-0")

        let meter = EnergyMeter(rapl: rapl, fallbackWatts: 999)
        try writeZone(root, "intel-rapl:0", ["energy_uj": "3500000"])                      // +2.5 J
        try writeZone(root, "intel-rapl:1", ["energy_uj": "500000"])                       // wrapped: +8.5 J
        let m = meter.finish()
        #expect(m.source == .rapl)
        #expect(abs(m.joules! - 11) < 1e-9)
        #expect(m.note == nil)
        let second = try rapl.read().get()
        #expect(abs(second.joules(since: first) - 11) < 1e-9)
    }

    @Test func missingOrUnreadableCountersFallBack() throws {
        let root = try temporaryDirectory("rapl-missing")
        defer { try? FileManager.default.removeItem(at: root) }
        let absent = RAPL(root: root.appendingPathComponent("nothing"))
        guard case .failure(let why) = absent.read() else { Issue.record("read a missing tree"); return }
        #expect(why.description.contains("nothing"))

        let watts = EnergyMeter(rapl: absent, fallbackWatts: 50).finish()
        #expect(watts.source == .assumedWatts(50))
        #expect(watts.watts == 50)
        #expect(abs(watts.joules! - 50 * watts.seconds) < 1e-9)
        #expect(watts.note?.contains("--watts 50") == true)

        let unknown = EnergyMeter(rapl: absent).finish()
        #expect(unknown.source == .unknown && unknown.joules == nil)
        #expect(unknown.note?.contains("--watts") == true)

        try writeZone(root, "intel-rapl:0", ["name": "package-0"])                          // no energy_uj
        guard case .failure(let unreadable) = RAPL(root: root).read() else { Issue.record("read a zone without energy_uj"); return }
        #expect(unreadable.description.contains("energy_uj"))
    }

    @Test func rootComesFromTheEnvironment() {
        #expect(RAPL.defaultRoot(environment: ["ANNEAL_RAPL_ROOT": "/tmp/fake-rapl"]).path == "/tmp/fake-rapl")
        #expect(RAPL.defaultRoot(environment: [:]).path == "/sys/class/powercap")
    }

    @Test func costMeterUsesTheRunsTimeAndEnergy() throws {
        let root = try temporaryDirectory("rapl-run")
        defer { try? FileManager.default.removeItem(at: root) }
        try writeZone(root, "intel-rapl:0", ["name": "package-0", "energy_uj": "0", "max_energy_range_uj": "1000000000"])
        let meter = CostMeter(CostOptions(gridIntensity: 500, raplRoot: root))
        try writeZone(root, "intel-rapl:0", ["energy_uj": "7200000"])                     // 7.2 J
        let e = meter.finish(shape: ModelShape(parameters: 10), items: 100)
        #expect(e.energySource == "RAPL")
        #expect(abs(e.joules! - 7.2) < 1e-9)
        #expect(abs(e.co2Grams! - 7.2 / 3.6e6 * 500) < 1e-12)
        #expect(abs(e.itemsPerSecond * e.seconds - 100) < 1e-6)
    }
}

@Suite struct PeakCache {
    @Test func cacheFileFollowsXDGThenHome() {
        #expect(PeakFlops.cacheFile(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/h"]).path == "/x/cache/anneal/peak.json")
        #expect(PeakFlops.cacheFile(environment: ["HOME": "/h"]).path == "/h/.cache/anneal/peak.json")
    }

    @Test func storeAndReload() throws {
        let dir = try temporaryDirectory("peak")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["XDG_CACHE_HOME": dir.path]
        let backend = ReferenceBackend(threads: 3)
        #expect(PeakFlops.cached(for: backend, environment: env) == nil)
        let a = PeakMeasurement(backend: "reference", core: "swift", threads: 3, gflops: 12.5, size: 512, measuredAt: "t0")
        let b = PeakMeasurement(backend: "openblas", core: "Haswell", threads: 2, gflops: 240, size: 1024, measuredAt: "t1")
        try PeakFlops.store(a, environment: env)
        try PeakFlops.store(b, environment: env)
        #expect(PeakFlops.cached(for: backend, environment: env) == a)
        #expect(PeakFlops.cachedEntries(environment: env) == [a.key: a, b.key: b])
        var a2 = a; a2.gflops = 13
        try PeakFlops.store(a2, environment: env)
        #expect(PeakFlops.cached(for: backend, environment: env)?.gflops == 13)
        #expect(PeakFlops.cached(for: ReferenceBackend(threads: 1), environment: env) == nil)   // other thread count
    }

    @Test func measureThenCache() throws {
        let dir = try temporaryDirectory("peak-measure")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["XDG_CACHE_HOME": dir.path]
        let backend = ReferenceBackend(threads: 1)
        let m = PeakFlops.measure(on: backend, sizes: [32, 64], reps: 3, budget: 0.05)
        #expect(m.gflops > 0 && [32, 64].contains(m.size))
        #expect(m.backend == "reference" && m.core == "swift" && m.threads == 1)
        try PeakFlops.store(m, environment: env)
        let (again, fromCache) = PeakFlops.cachedOrMeasured(on: backend, environment: env)
        #expect(fromCache && again == m)
    }
}
