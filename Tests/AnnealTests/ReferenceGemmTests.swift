// Tests for ReferenceGemm.tuned against the naive oracle ReferenceGemm.naive.
import Anneal
import Dispatch
import Testing

/// Deterministic xorshift generator so failures reproduce.
private struct GemmTestRng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

private struct GemmTestCase: CustomStringConvertible {
    var m: Int, n: Int, k: Int
    var transA = false, transB = false
    var alpha: Float = 1, beta: Float = 0
    var padA = 0, padB = 0, padC = 0
    var threads = 1
    var nanC = false
    var description: String {
        "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta) "
            + "pad=(\(padA),\(padB),\(padC)) threads=\(threads) nanC=\(nanC)"
    }
}

/// Runs tuned and naive on the same random inputs and compares every element of C,
/// including the padding columns, which must be left untouched.
private func checkGemm(_ t: GemmTestCase, seed: UInt64 = 1) {
    var rng = GemmTestRng(seed &+ UInt64(t.m * 1_000_003 + t.n * 1009 + t.k))
    let aRows = t.transA ? t.k : t.m, aCols = t.transA ? t.m : t.k
    let bRows = t.transB ? t.n : t.k, bCols = t.transB ? t.k : t.n
    let lda = aCols + t.padA, ldb = bCols + t.padB, ldc = t.n + t.padC
    let a = (0..<max(1, aRows * lda)).map { _ in rng.float() }
    let b = (0..<max(1, bRows * ldb)).map { _ in rng.float() }
    var c0 = (0..<max(1, t.m * ldc)).map { _ in rng.float() }
    if t.nanC {
        for i in 0..<t.m { for j in 0..<t.n { c0[i * ldc + j] = .nan } }
    }
    var expected = c0, actual = c0
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            expected.withUnsafeMutableBufferPointer { c in
                ReferenceGemm.naive(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k,
                                    alpha: t.alpha, a: a.baseAddress!, lda: max(1, lda),
                                    b: b.baseAddress!, ldb: max(1, ldb), beta: t.beta,
                                    c: c.baseAddress!, ldc: max(1, ldc))
            }
            actual.withUnsafeMutableBufferPointer { c in
                ReferenceGemm.tuned(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k,
                                    alpha: t.alpha, a: a.baseAddress!, lda: max(1, lda),
                                    b: b.baseAddress!, ldb: max(1, ldb), beta: t.beta,
                                    c: c.baseAddress!, ldc: max(1, ldc), threads: t.threads)
            }
        }
    }
    // |a|, |b|, |c| ≤ 1: error bound ~ k·ε·|alpha| + |beta|·ε, with headroom.
    let tol = Float(max(t.k, 1)) * 1e-6 * max(1, abs(t.alpha)) * 4 + abs(t.beta) * 1e-6 + 1e-6
    var bad = 0
    var firstBad = ""
    for i in 0..<t.m {
        for j in 0..<ldc {
            let e = expected[i * ldc + j], g = actual[i * ldc + j]
            let ok: Bool
            if j >= t.n {
                ok = g.bitPattern == c0[i * ldc + j].bitPattern  // padding untouched
            } else {
                ok = g.isFinite && abs(e - g) <= tol
            }
            if !ok {
                if bad == 0 { firstBad = "C[\(i),\(j)] expected \(e) got \(g)" }
                bad += 1
            }
        }
    }
    #expect(bad == 0, "\(t): \(bad) mismatches, first \(firstBad)")
}

@Suite("ReferenceGemm")
struct ReferenceGemmTests {
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 1, 7), (7, 13, 5), (2, 3, 1), (6, 16, 1), (6, 16, 9), (5, 15, 3),
        (12, 32, 17), (13, 31, 40), (65, 129, 33), (64, 64, 64), (1, 100, 37), (100, 1, 37),
        (37, 41, 300), (130, 70, 257), (127, 17, 513),
    ]

    @Test("all transpose combinations, threads 1 and 2", arguments: [false, true], [false, true])
    func transposes(transA: Bool, transB: Bool) {
        for (m, n, k) in Self.shapes {
            for threads in [1, 2] {
                checkGemm(GemmTestCase(m: m, n: n, k: k, transA: transA, transB: transB, threads: threads))
            }
        }
    }

    @Test("alpha / beta variants", arguments: [
        (Float(1), Float(0)), (1, 1), (2.5, 0), (-0.5, 1), (1, -2), (0.75, 0.25), (0, 0.5), (0, 0), (0, 1),
    ])
    func alphaBeta(alpha: Float, beta: Float) {
        for (m, n, k) in [(7, 13, 5), (65, 129, 33), (130, 70, 257)] {
            for tA in [false, true] {
                for threads in [1, 2] {
                    checkGemm(GemmTestCase(m: m, n: n, k: k, transA: tA, transB: !tA, alpha: alpha, beta: beta,
                               threads: threads))
                }
            }
        }
    }

    @Test("padded leading dimensions")
    func padded() {
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (65, 129, 33), (96, 200, 300)] {
            for tA in [false, true] {
                for tB in [false, true] {
                    for threads in [1, 2] {
                        checkGemm(GemmTestCase(m: m, n: n, k: k, transA: tA, transB: tB, alpha: 1.5, beta: 0.5,
                                   padA: 3, padB: 5, padC: 7, threads: threads))
                    }
                }
            }
        }
    }

    @Test("beta = 0 never reads C (NaN-filled C)")
    func betaZeroNaN() {
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (65, 129, 33), (130, 70, 257), (200, 200, 300), (6, 1000, 400)] {
            for tA in [false, true] {
                for threads in [1, 2] {
                    checkGemm(GemmTestCase(m: m, n: n, k: k, transA: tA, transB: tA, alpha: 1, beta: 0, padC: 2,
                               threads: threads, nanC: true))
                }
            }
            // k == 0 and alpha == 0 with beta == 0 must write zeros, not NaN.
            checkGemm(GemmTestCase(m: m, n: n, k: 0, beta: 0, nanC: true))
            checkGemm(GemmTestCase(m: m, n: n, k: k, alpha: 0, beta: 0, threads: 2, nanC: true))
        }
    }

    @Test("empty dimensions")
    func empty() {
        checkGemm(GemmTestCase(m: 0, n: 5, k: 3))
        checkGemm(GemmTestCase(m: 5, n: 0, k: 3))
        checkGemm(GemmTestCase(m: 0, n: 0, k: 0))
        checkGemm(GemmTestCase(m: 4, n: 5, k: 0, beta: 0.5))
        checkGemm(GemmTestCase(m: 4, n: 5, k: 0, beta: 1, threads: 2))
    }

    @Test("sizes crossing the MC / KC / NC blocks, both parallel drivers")
    func blocks() {
        // Row-parallel (m large), column-parallel (m small, n wide), and KC boundaries;
        // all well above the parallel threshold (m·n·k ≥ 128³).
        checkGemm(GemmTestCase(m: 250, n: 300, k: 520, transA: true, beta: 1, threads: 2))
        checkGemm(GemmTestCase(m: 10, n: 3100, k: 80, transB: true, alpha: 2, beta: 0.5, threads: 2))
        checkGemm(GemmTestCase(m: 23, n: 700, k: 300, transA: true, beta: 1, padA: 1, padB: 2, padC: 3, threads: 2))
        checkGemm(GemmTestCase(m: 301, n: 3090, k: 9, threads: 2))
        checkGemm(GemmTestCase(m: 301, n: 3090, k: 9, threads: 1))
        checkGemm(GemmTestCase(m: 241, n: 35, k: 700, transA: true, transB: true, threads: 3))
    }

    @Test("concurrent callers, each multithreaded")
    func concurrentCallers() {
        // Several independent GEMMs at once (as from a parallel training loop): no shared state.
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            checkGemm(GemmTestCase(m: 150 + i, n: 170, k: 90, transA: i % 2 == 1, transB: i >= 2, alpha: 1, beta: 0.5,
                       threads: 2))
        }
    }

    @Test("random shapes", arguments: 0..<6)
    func random(seed: Int) {
        var rng = GemmTestRng(UInt64(seed) + 77)
        for _ in 0..<8 {
            let t = GemmTestCase(m: rng.int(1...150), n: rng.int(1...150), k: rng.int(1...300),
                         transA: rng.int(0...1) == 1, transB: rng.int(0...1) == 1,
                         alpha: [1, -1, 0.5][rng.int(0...2)], beta: [0, 1, 0.3][rng.int(0...2)],
                         padA: rng.int(0...3), padB: rng.int(0...3), padC: rng.int(0...3),
                         threads: rng.int(1...2))
            checkGemm(t, seed: UInt64(seed))
        }
    }
}
