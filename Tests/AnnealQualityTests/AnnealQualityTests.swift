// Shared fixtures for the AnnealQuality tests: the digits resource, small
// synthetic data and temporary files.

import AnnealData
import Foundation
import Testing
import AnnealQuality

/// Digits (1797 × 64, 10 classes) from the test resources.
func loadDigits() throws -> CSVDataset {
    let url = try #require(Bundle.module.url(forResource: "digits", withExtension: "csv", subdirectory: "Resources")
                           ?? Bundle.module.url(forResource: "digits", withExtension: "csv"),
                           "digits.csv missing from Tests/AnnealQualityTests/Resources")
    return try CSVDataset.load(url)
}

/// Row-major N × F standard-normal features and uniform labels in 0..<classes.
func randomData(rows: Int, features: Int, classes: Int, seed: UInt64) -> (x: [Float], y: [Int]) {
    var rng = DataRNG(seed: seed)
    var x = [Float](repeating: 0, count: rows * features)
    for i in x.indices {
        // Box–Muller from two uniforms.
        let u = max(rng.nextUnit(), 1e-12), v = rng.nextUnit()
        x[i] = Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }
    return (x, (0..<rows).map { _ in rng.nextInt(below: classes) })
}

/// A temporary file holding `text`, removed by the caller with `cleanup`.
struct TempFile {
    let url: URL
    init(_ name: String, _ text: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-quality-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
    }
    var path: String { url.path }
    func cleanup() { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
}

/// The error's description, or nil when `body` does not throw.
func thrownMessage(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}
