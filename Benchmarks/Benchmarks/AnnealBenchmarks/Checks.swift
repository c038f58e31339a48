// Result checks run once in each benchmark's setup, before any timing. A
// result that disagrees with the reference ends the whole run with exit code 1
// (package-benchmark reports a setup error but still exits 0).

import Anneal
import Foundation

/// Prints "check failed: <message>" to stderr and exits with status 1.
func checkFailed(_ message: String) -> Never {
    FileHandle.standardError.write(Data("check failed: \(message)\n".utf8))
    exit(1)
}

/// The references results are checked against: the reference backend with its
/// naive triple-loop gemm (the algorithmic definition). Results are memoised,
/// so each is computed once per run however many backends are checked.
final class Oracle {
    /// Reference backend, naive gemm, one thread.
    let backend = ReferenceBackend(threads: 1, gemm: .naive)
    private var products: [Int: Tensor] = [:]
    private var losses: [String: [Float]] = [:]

    /// a·b for the operands of `gemmInputs(n)`.
    func product(n: Int) -> Tensor {
        if let c = products[n] { return c }
        let (a, b) = gemmInputs(n)
        let c = Runtime.withBackend(backend) { Tensor.matmul(a, b) }
        products[n] = c
        return c
    }

    /// The first two step losses of a fresh workload `name`.
    func losses(workload name: String) -> [Float] {
        if let l = losses[name] { return l }
        let l = firstLosses(name, on: backend)
        losses[name] = l
        return l
    }
}

/// The seeded n×n operands every gemm benchmark multiplies.
func gemmInputs(_ n: Int) -> (Tensor, Tensor) {
    (Tensor.randn([n, n], seed: 1), Tensor.randn([n, n], seed: 2))
}

/// Fails the run unless |got[i] − expected[i]| ≤ atol + rtol·|expected[i]| for
/// every i (and the element counts agree).
func check(_ name: String, _ got: Tensor, _ expected: [Double], atol: Double, rtol: Double) {
    let values = got.scalars
    guard values.count == expected.count else {
        checkFailed("\(name): \(values.count) elements, expected \(expected.count)")
    }
    var worst = (index: -1, excess: 0.0)
    for (i, (g, e)) in zip(values, expected).enumerated() {
        let excess = abs(Double(g) - e) - (atol + rtol * abs(e))
        if !(excess <= worst.excess) { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    if worst.index >= 0 {
        let i = worst.index
        checkFailed("\(name): element \(i) is \(values[i]), reference \(expected[i])")
    }
}

/// `check` against a reference tensor (shapes must match too).
func check(_ name: String, _ got: Tensor, _ expected: Tensor, atol: Double, rtol: Double) {
    guard got.shape == expected.shape else {
        checkFailed("\(name): shape \(got.shape), reference \(expected.shape)")
    }
    check(name, got, expected.scalars.map(Double.init), atol: atol, rtol: rtol)
}
