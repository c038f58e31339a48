// Backends agree with each other; linear algebra solves what it claims.

import Anneal
import Testing
import _TestSupport

@Suite struct BackendTests {
    /// The naive reference GEMM is the oracle for every other one.
    @Test(arguments: BackendCase.all)
    func gemmMatchesNaiveOverRandomShapes(_ b: BackendCase) {
        var rng = RandomGenerator(seed: 42)
        let oracle = ReferenceBackend(threads: 1, gemm: .naive)
        for trial in 0..<40 {
            let m = 1 + rng.nextInt(70), n = 1 + rng.nextInt(70), k = 1 + rng.nextInt(70)
            let ta = rng.nextInt(2) == 1, tb = rng.nextInt(2) == 1
            let a = Tensor.randn(ta ? [k, m] : [m, k], generator: &rng)
            let c = Tensor.randn(tb ? [n, k] : [k, n], generator: &rng)
            let want = Runtime.withBackend(oracle) { Tensor.matmul(a, c, transposeA: ta, transposeB: tb) }
            let got = b.run { Tensor.matmul(a, c, transposeA: ta, transposeB: tb) }
            #expect(allClose(got, want, rtol: 1e-4, atol: 1e-4), "\(b) trial \(trial): m \(m) n \(n) k \(k) tA \(ta) tB \(tb)")
        }
    }

    @Test(arguments: BackendCase.all)
    func elementwiseAgreesWithOracleOnLargeInputs(_ b: BackendCase) {
        // Large enough to take the multi-threaded path.
        let x = Tensor.randn([300, 700], seed: 3), y = Tensor.randn([700], seed: 4)
        let oracle = ReferenceBackend(threads: 1, gemm: .naive)
        let f: () -> Tensor = { ((x * y).tanh() + x.softmax(axis: -1)).sum(axis: 0) }
        #expect(allClose(b.run(f), Runtime.withBackend(oracle, f), rtol: 1e-5, atol: 1e-5))
    }

    @Test(arguments: BackendCase.all)
    func choleskyLeastSquaresEigen(_ b: BackendCase) throws {
        let n = 6
        let m = Tensor.randn([n, n], seed: 5)
        let spd = (Tensor.matmul(m, m, transposeB: true) + Tensor.full([n, n], 0) ).scalars
        var a = spd
        for i in 0..<n { a[i * n + i] += Float(n) }
        let xTrue = Tensor.randn([n, 2], seed: 6)
        let rhs = Tensor.matmul(Tensor(shape: [n, n], a), xTrue)
        var factor = a, sol = rhs.scalars
        try factor.withUnsafeMutableBufferPointer { fa in
            try sol.withUnsafeMutableBufferPointer { sb in
                try b.backend.choleskySolve(fa.baseAddress!, n: n, sb.baseAddress!, nrhs: 2)
            }
        }
        #expect(allClose(Tensor(shape: [n, 2], sol), xTrue, rtol: 1e-3, atol: 1e-3), "\(b) cholesky")

        // Least squares on an overdetermined consistent system recovers x.
        let tall = Tensor.randn([10, 3], seed: 7), x3 = Tensor.randn([3, 1], seed: 8)
        let bb = Tensor.matmul(tall, x3)
        var out = [Float](repeating: 0, count: 3)
        try tall.withUnsafeBufferPointer { pa in try bb.withUnsafeBufferPointer { pb in
            try out.withUnsafeMutableBufferPointer { try b.backend.leastSquares(pa.baseAddress!, m: 10, n: 3, pb.baseAddress!, nrhs: 1, $0.baseAddress!) }
        } }
        #expect(allClose(Tensor(shape: [3, 1], out), x3, rtol: 1e-3, atol: 1e-3), "\(b) least squares")

        // Eigen: A·v = λ·v for every pair, eigenvalues ascending.
        var values = [Float](repeating: 0, count: n), vectors = [Float](repeating: 0, count: n * n)
        try a.withUnsafeBufferPointer { pa in
            try values.withUnsafeMutableBufferPointer { pv in try vectors.withUnsafeMutableBufferPointer { pw in
                try b.backend.symmetricEigen(pa.baseAddress!, n: n, values: pv.baseAddress!, vectors: pw.baseAddress!)
            } }
        }
        #expect(values == values.sorted())
        let av = Tensor.matmul(Tensor(shape: [n, n], a), Tensor(shape: [n, n], vectors))
        let lv = Tensor(shape: [n, n], vectors) * Tensor(values)
        #expect(allClose(av, lv, rtol: 1e-3, atol: 1e-3), "\(b) eigen")
    }

    @Test(arguments: BackendCase.all)
    func choleskyRejectsIndefinite(_ b: BackendCase) {
        var a: [Float] = [1, 2, 2, 1], rhs: [Float] = [1, 1]
        #expect(throws: LinearAlgebraError.self) {
            try a.withUnsafeMutableBufferPointer { pa in try rhs.withUnsafeMutableBufferPointer { pb in
                try b.backend.choleskySolve(pa.baseAddress!, n: 2, pb.baseAddress!, nrhs: 1)
            } }
        }
    }
}
