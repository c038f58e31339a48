// The vectorised exp / erf / tanh / GELU kernels against libm in Double, over
// a dense grid that spans their tails, and the buffer pool behind Storage.

import Anneal
import Foundation
import Testing
import _TestSupport

@Suite struct VectorMathTests {
    /// 20 001 points on [−20, 20] plus specials; the count is not a multiple of
    /// 8, so the vector tail path runs too.
    static let grid: [Float] = (0...20000).map { Float($0) / 500 - 20 } + [-100, 100, 0, -0]

    static func erfGelu(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.squareRoot())) }
    static func erfGeluDerivative(_ x: Double) -> Double {
        0.5 * (1 + Foundation.erf(x / 2.squareRoot())) + x * Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot()
    }

    /// Largest |got − want| / (atol + rtol·|want|) over the grid (≤ 1 passes).
    static func worst(_ got: [Float], _ want: (Double) -> Double, rtol: Double, atol: Double) -> (Double, Float) {
        var worst = 0.0, at: Float = 0
        for (x, y) in zip(grid, got) {
            let w = Double(Float(want(Double(x))))   // the Float result, ±∞ past its range
            let err = w.isInfinite ? (Double(y) == w ? 0 : .infinity) : abs(Double(y) - w) / (atol + rtol * abs(w))
            if err > worst { worst = err; at = x }
        }
        return (worst, at)
    }

    @Test(arguments: BackendCase.all)
    func transcendentalsMatchLibm(_ b: BackendCase) {
        let x = Tensor(shape: [Self.grid.count], Self.grid)
        let cases: [(String, (Tensor) -> Tensor, (Double) -> Double, Double, Double)] = [
            ("exp", { $0.exp() }, { Foundation.exp($0) }, 4e-7, 1e-37),
            ("tanh", { $0.tanh() }, { Foundation.tanh($0) }, 1e-6, 1e-7),
            ("sigmoid", { $0.sigmoid() }, { 1 / (1 + Foundation.exp(-$0)) }, 1e-6, 1e-30),
            ("gelu", { $0.gelu() }, Self.erfGelu, 1e-6, 4e-7),
            ("gelu_tanh", { $0.gelu(approximate: true) },
             { 0.5 * $0 * (1 + Foundation.tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) }, 1e-6, 6e-7),
        ]
        for (name, f, want, rtol, atol) in cases {
            let (w, at) = Self.worst(b.run { f(x) }.scalars, want, rtol: rtol, atol: atol)
            #expect(w <= 1, "\(b) \(name): error \(w)× tolerance at x = \(at)")
        }
        let special = Tensor(shape: [3], [.nan, .infinity, -.infinity])
        #expect(b.run { special.exp() }.scalars.map { $0.isNaN ? "nan" : "\($0)" } == ["nan", "inf", "0.0"], "\(b)")
    }

    @Test(arguments: BackendCase.all)
    func geluDerivativeMatchesLibm(_ b: BackendCase) {
        let x = Tensor(shape: [Self.grid.count], Self.grid).requiringGrad()
        b.run { x.gelu().sum().backward() }
        let (w, at) = Self.worst(x.grad!.scalars, Self.erfGeluDerivative, rtol: 1e-6, atol: 5e-7)
        #expect(w <= 1, "\(b) gelu′: error \(w)× tolerance at x = \(at)")
    }

    @Test func poolReusesFreedBuffersOfTheSameSize() {
        let pool = BufferPool(limitBytes: 1 << 20)
        let bytes = 100_000
        let a = pool.allocate(bytes: bytes)
        #expect(Int(bitPattern: a) % 64 == 0)
        pool.release(a, bytes: bytes)
        #expect(pool.cachedBytes == 102_400)        // rounded up to whole pages
        let b = pool.allocate(bytes: bytes + 100)   // same page count: reused
        #expect(a == b && pool.cachedBytes == 0)
        let c = pool.allocate(bytes: 2 * bytes)     // another size: fresh
        #expect(c != b)
        pool.release(b, bytes: bytes)
        pool.release(c, bytes: 2 * bytes)
        #expect(pool.cachedBytes == 102_400 + 200_704)
        pool.trim()
        #expect(pool.cachedBytes == 0)
    }

    @Test func poolStaysUnderItsLimit() {
        let pool = BufferPool(limitBytes: 300_000)
        let sizes = [65_536, 131_072, 200_000, 70_000, 500_000]
        let buffers = sizes.map { pool.allocate(bytes: $0) }
        for (p, n) in zip(buffers, sizes) {
            pool.release(p, bytes: n)
            #expect(pool.cachedBytes <= 300_000, "after releasing \(n) bytes: \(pool.cachedBytes) cached")
        }
        #expect(pool.cachedBytes > 0)
        pool.limitBytes = 0
        #expect(pool.cachedBytes == 0)
        let small = pool.allocate(bytes: 1000)      // below the pool's minimum: plain malloc
        pool.release(small, bytes: 1000)
        #expect(pool.cachedBytes == 0)
    }

    @Test func tensorsReuseTheSharedPool() {
        let n = 50_000                              // 200 kB: pooled
        let addr: (Tensor) -> Int = { t in t.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
        var first = Tensor.zeros([n])
        let a = addr(first)
        first = Tensor.zeros([1])
        let again = Tensor.full([n], 3)
        #expect(addr(again) == a && again.scalars.allSatisfy { $0 == 3 })
    }
}
