// Helpers shared by the test targets: the backends to run each test body on,
// closeness checks and a finite-difference gradient checker.

import Anneal
import Foundation

/// A backend under test, with a readable name for parameterised tests.
public struct BackendCase: Sendable, CustomStringConvertible {
    public let backend: Backend
    public var description: String { backend.name }
    public init(_ backend: Backend) { self.backend = backend }

    /// Every backend this build has (OpenBLAS if linked, the tuned reference,
    /// and the naive reference oracle), each with 2 threads.
    public static let all: [BackendCase] = {
        var list = Runtime.availableBackends.map(BackendCase.init)
        list.append(BackendCase(ReferenceBackend(threads: 2, gemm: .naive)))
        return list
    }()

    /// Runs `body` with this backend current.
    public func run<R>(_ body: () throws -> R) rethrows -> R { try Runtime.withBackend(backend, body) }
}

/// Largest elementwise violation of |a − b| ≤ atol + rtol·|b| (0 when all pass),
/// or +∞ on a shape mismatch.
public func closeness(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a.scalars, b.scalars) {
        if x.isNaN != y.isNaN { return .infinity }
        if x == y { continue }
        worst = max(worst, abs(x - y) - (atol + rtol * abs(y)))
    }
    return worst
}

/// True when `a` and `b` have one shape and agree within tolerance.
public func allClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    closeness(a, b, rtol: rtol, atol: atol) <= 0
}

/// Compares autograd gradients with central finite differences.
///
/// `f` maps the inputs to a tensor; the checked scalar is Σ f(x)⊙w for a fixed
/// random weighting w, so every output element matters. Derivatives are taken
/// in Float32 with step `eps`, so tolerances are loose (default 2e-2 relative).
/// Returns a description of the worst mismatch, or nil when all agree.
public func gradientCheck(_ inputs: [Tensor], eps: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
                          seed: UInt64 = 7, _ f: ([Tensor]) -> Tensor) -> String? {
    let probe = Runtime.withNoGrad { f(inputs) }
    let w = Tensor.uniform(probe.shape, seed: seed) + 0.5
    func objective(_ xs: [Tensor]) -> Double {
        let y = Runtime.withNoGrad { f(xs) }
        return zip(y.scalars, w.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let leaves = inputs.map { $0.detached().requiringGrad() }
    let y = f(leaves)
    guard y.requiresGrad else { return "output does not require grad" }
    y.backward(w)
    var problems: [String] = []
    for (i, leaf) in leaves.enumerated() {
        guard let g = leaf.grad else { problems.append("input \(i): no gradient"); continue }
        var xs = inputs.map { $0.detached() }
        for j in 0..<inputs[i].count {
            let orig = inputs[i].scalars[j]
            xs[i] = perturbed(inputs[i], j, orig + eps)
            let up = objective(xs)
            xs[i] = perturbed(inputs[i], j, orig - eps)
            let down = objective(xs)
            xs[i] = inputs[i].detached()
            let numeric = Float((up - down) / Double(2 * eps))
            let analytic = g.scalars[j]
            if abs(numeric - analytic) > atol + rtol * max(abs(numeric), abs(analytic)) {
                problems.append("input \(i)[\(j)]: autograd \(analytic), finite difference \(numeric)")
            }
        }
    }
    return problems.isEmpty ? nil : problems.prefix(5).joined(separator: "; ")
}

func perturbed(_ t: Tensor, _ index: Int, _ value: Float) -> Tensor {
    var c = t.copy()
    c.withUnsafeMutableBufferPointer { $0[index] = value }
    return c
}

/// Loads a test resource from a bundle's Resources folder.
public func resourceURL(_ bundle: Bundle, _ name: String) -> URL {
    let u = URL(fileURLWithPath: name)
    guard let url = bundle.url(forResource: u.deletingPathExtension().lastPathComponent, withExtension: u.pathExtension)
            ?? bundle.url(forResource: u.deletingPathExtension().lastPathComponent, withExtension: u.pathExtension,
                          subdirectory: "Resources") else {
        fatalError("test resource \(name) is missing from \(bundle.bundlePath)")
    }
    return url
}
