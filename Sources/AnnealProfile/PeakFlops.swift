// The machine's sgemm peak, the denominator of MFU: a short calibration of
// square GEMMs on a backend, cached as JSON per backend, OpenBLAS core and
// thread count under $XDG_CACHE_HOME/anneal/ (or ~/.cache/anneal/).

import Anneal
import Foundation

/// A measured sgemm peak.
public struct PeakMeasurement: Codable, Sendable, Equatable {
    /// Backend name ("openblas", "reference").
    public var backend: String
    /// OpenBLAS kernel family ("Haswell"), or "swift" for the reference backend.
    public var core: String
    /// Threads the backend used.
    public var threads: Int
    /// Best median throughput over the calibration sizes, in GFLOP/s (2·n³ FLOPs per n×n×n GEMM).
    public var gflops: Double
    /// The size n that reached it.
    public var size: Int
    /// When it was measured (ISO 8601).
    public var measuredAt: String

    /// A measurement with these fields.
    public init(backend: String, core: String, threads: Int, gflops: Double, size: Int, measuredAt: String) {
        self.backend = backend; self.core = core; self.threads = threads
        self.gflops = gflops; self.size = size; self.measuredAt = measuredAt
    }

    /// The cache key: "backend/core/threads=N".
    public var key: String { PeakFlops.key(backend: backend, core: core, threads: threads) }
}

/// Measures and caches the sgemm peak.
public enum PeakFlops {
    /// The cache key of a backend configuration.
    public static func key(backend: String, core: String, threads: Int) -> String { "\(backend)/\(core)/threads=\(threads)" }

    /// (backend name, core, threads) of `backend` (an `ObservedBackend` is looked through).
    public static func identity(of backend: Backend) -> (backend: String, core: String, threads: Int) {
        var b = backend
        while let o = b as? ObservedBackend { b = o.base }
        var core = "swift"
        #if OpenBLAS
        if b is OpenBLASBackend { core = OpenBLASBackend.coreName }
        #endif
        return (b.name, core, b.threads)
    }

    /// The cache file: `$XDG_CACHE_HOME/anneal/peak.json`, else `~/.cache/anneal/peak.json`.
    public static func cacheFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else {
            let home = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            base = home.appendingPathComponent(".cache", isDirectory: true)
        }
        return base.appendingPathComponent("anneal", isDirectory: true).appendingPathComponent("peak.json")
    }

    struct CacheFile: Codable { var entries: [String: PeakMeasurement] }

    /// Every cached measurement by key (empty when the file is missing or unreadable).
    public static func cachedEntries(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: PeakMeasurement] {
        guard let data = try? Data(contentsOf: cacheFile(environment: environment)),
              let file = try? JSONDecoder().decode(CacheFile.self, from: data) else { return [:] }
        return file.entries
    }

    /// The cached peak for `backend`'s configuration, if any.
    public static func cached(for backend: Backend,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> PeakMeasurement? {
        let id = identity(of: backend)
        return cachedEntries(environment: environment)[key(backend: id.backend, core: id.core, threads: id.threads)]
    }

    /// Adds `m` to the cache file (creating directories; atomic replace).
    public static func store(_ m: PeakMeasurement, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let url = cacheFile(environment: environment)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var entries = cachedEntries(environment: environment)
        entries[m.key] = m
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(CacheFile(entries: entries)).write(to: url, options: .atomic)
    }

    /// Calibrates: for each n in `sizes`, one warm-up and up to `reps` timed
    /// C = A·B GEMMs of n×n matrices (stopping early after `budget` seconds per
    /// size); the peak is the best median 2·n³ / time.
    public static func measure(on backend: Backend = Runtime.backend, sizes: [Int] = [256, 512, 1024, 1536],
                               reps: Int = 9, budget: Double = 0.4) -> PeakMeasurement {
        let id = identity(of: backend)
        var best = (gflops: 0.0, size: 0)
        for n in sizes {
            let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.125 - 0.375; b[i] = Float(i % 5) * 0.25 - 0.5 }
            func once() -> Double {
                let t0 = DispatchTime.now().uptimeNanoseconds
                backend.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a, lda: n, strideA: 0,
                             b: b, ldb: n, strideB: 0, beta: 0, c: c, ldc: n, strideC: 0, batch: 1)
                return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            }
            _ = once()
            var times: [Double] = []
            var spent = 0.0
            while times.count < reps && (times.count < 3 || spent < budget) {
                let t = once()
                times.append(t); spent += t
            }
            let g = 2 * Double(n) * Double(n) * Double(n) / median(times) / 1e9
            if g > best.gflops { best = (g, n) }
        }
        return PeakMeasurement(backend: id.backend, core: id.core, threads: id.threads, gflops: best.gflops,
                               size: best.size, measuredAt: ISO8601DateFormatter().string(from: Date()))
    }

    /// The cached peak for `backend`, or a fresh measurement that is then cached
    /// (`fromCache` tells which). A cache that cannot be written is not an error.
    public static func cachedOrMeasured(on backend: Backend = Runtime.backend,
                                        environment: [String: String] = ProcessInfo.processInfo.environment)
        -> (measurement: PeakMeasurement, fromCache: Bool) {
        if let m = cached(for: backend, environment: environment) { return (m, true) }
        var base = backend
        while let o = base as? ObservedBackend { base = o.base }
        let m = measure(on: base)
        try? store(m, environment: environment)
        return (m, false)
    }
}
