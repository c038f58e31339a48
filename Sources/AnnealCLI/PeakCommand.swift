// `anneal peak`: measure this machine's sgemm peak (the denominator of every
// profile's MFU) and cache it per backend, OpenBLAS core and thread count.

import Anneal
import AnnealProfile
import ArgumentParser
import Foundation

struct PeakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak", abstract: "Measure this machine's sgemm peak (cached under $XDG_CACHE_HOME/anneal or ~/.cache/anneal).")

    @Flag(help: "Measure again even if a cached value exists.")
    var force = false

    @Flag(help: "Print the measurement as JSON.")
    var json = false

    @Option(help: "Comma-separated square GEMM sizes to calibrate with.")
    var sizes = "256,512,1024,1536"

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        let ns = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ns.isEmpty, ns.allSatisfy({ $0 > 0 && $0 <= 8192 }) else {
            throw ValidationError("--sizes must be comma-separated sizes in 1…8192, got '\(sizes)'")
        }
        let file = PeakFlops.cacheFile()
        var m: PeakMeasurement
        var cached = false
        if !force, let c = PeakFlops.cached(for: Runtime.backend) {
            m = c; cached = true
        } else {
            m = PeakFlops.measure(on: Runtime.backend, sizes: ns)
            do { try PeakFlops.store(m) } catch {
                printError("warning: cannot cache the peak in \(file.path): \(error.localizedDescription)")
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(m), as: UTF8.self))
        } else {
            print(String(format: "sgemm peak: %.1f GFLOP/s at n=%d (%@, %@)", m.gflops, m.size, m.key as NSString,
                         (cached ? "cached \(m.measuredAt); --force to measure again" : "measured now") as NSString))
            print("cache: \(file.path)")
        }
    }
}
