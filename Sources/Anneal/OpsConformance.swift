// Runs `anneal-conformance/1` fixture files (PyTorch reference values for
// every primitive, forward and backward) against the current backend.

import Foundation

/// A fixture file that cannot be read: names the file and the problem.
public struct ConformanceFileError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public init(file: String, problem: String) { self.file = file; self.problem = problem }
    public var description: String { "\(file): \(problem)" }
}

/// The outcome of one fixture case.
public struct ConformanceResult: Sendable {
    /// The case's `name`.
    public let name: String
    /// nil when the case passed; otherwise what failed and its worst error.
    public let failure: String?
    public init(name: String, failure: String?) { self.name = name; self.failure = failure }
}

/// The `anneal-conformance/1` runner.
public enum OpsConformance {
    public static let format = "anneal-conformance/1"

    /// Checks every case of a fixture file on the current backend.
    /// Throws `ConformanceFileError` for a file that is not valid JSON or not of the format.
    public static func run(data: Data, file: String) throws -> [ConformanceResult] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConformanceFileError(file: file, problem: "not valid JSON (\(error.localizedDescription))")
        }
        guard let obj = root as? [String: Any] else { throw ConformanceFileError(file: file, problem: "top level is not an object") }
        guard let fmt = obj["format"] as? String, fmt == format else {
            throw ConformanceFileError(file: file, problem: "format is \(obj["format"].map { "\($0)" } ?? "missing"), expected \(format)")
        }
        guard let cases = obj["cases"] as? [[String: Any]] else {
            throw ConformanceFileError(file: file, problem: "\"cases\" is missing or not a list of objects")
        }
        var results: [ConformanceResult] = []
        for (i, c) in cases.enumerated() {
            let name = c["name"] as? String ?? "case \(i)"
            do {
                let parsed = try FixtureCase(c, file: file, index: i)
                results.append(ConformanceResult(name: name, failure: parsed.check()))
            } catch let e as ConformanceFileError {
                throw e
            } catch {
                throw ConformanceFileError(file: file, problem: "case \(i) (\(name)): \(error)")
            }
        }
        return results
    }
}

/// A tensor from a fixture: `{"shape": [...], "data": [...], "dtype": "int"?}`.
struct FixtureTensor {
    let shape: [Int]
    let values: [Double]
    let isInt: Bool

    init(_ any: Any?, _ where_: String, file: String) throws {
        guard let o = any as? [String: Any], let shape = o["shape"] as? [Int], let data = o["data"] as? [Any] else {
            throw ConformanceFileError(file: file, problem: "\(where_): expected {\"shape\": [...], \"data\": [...]}")
        }
        let values = try data.map { v -> Double in
            if let d = v as? Double { return d }
            if let s = v as? String, let d = Double(s) { return d }   // "nan", "inf"
            throw ConformanceFileError(file: file, problem: "\(where_): non-numeric data value \(v)")
        }
        guard shape.allSatisfy({ $0 >= 0 }), values.count == Shape.count(shape) else {
            throw ConformanceFileError(file: file, problem: "\(where_): \(values.count) values for shape \(shape)")
        }
        self.shape = shape; self.values = values; isInt = (o["dtype"] as? String) == "int"
    }

    var tensor: Tensor { Tensor(shape: shape, values.map { Float($0) }) }
    var ints: [Int] { values.map { Int($0) } }
}

struct FixtureCase {
    let name: String, op: String, attrs: [String: Any]
    let inputs: [FixtureTensor?]
    let output: FixtureTensor, gradOutput: FixtureTensor?
    let gradInputs: [FixtureTensor?]
    let rtol: Double, atol: Double
    let file: String

    init(_ c: [String: Any], file: String, index: Int) throws {
        self.file = file
        let name = c["name"] as? String ?? "case \(index)"
        self.name = name
        guard let op = c["op"] as? String else { throw ConformanceFileError(file: file, problem: "case \(index) (\(name)): no \"op\"") }
        self.op = op
        attrs = c["attrs"] as? [String: Any] ?? [:]
        guard let ins = c["inputs"] as? [Any] else { throw ConformanceFileError(file: file, problem: "case \(name): no \"inputs\" list") }
        inputs = try ins.enumerated().map { i, v in v is NSNull ? nil : try FixtureTensor(v, "case \(name) input \(i)", file: file) }
        output = try FixtureTensor(c["output"], "case \(name) output", file: file)
        gradOutput = c["grad_output"].flatMap { $0 is NSNull ? nil : $0 }.map { try? FixtureTensor($0, "", file: file) } ?? nil
        let gi = c["grad_inputs"] as? [Any] ?? []
        gradInputs = try gi.enumerated().map { i, v in v is NSNull ? nil : try FixtureTensor(v, "case \(name) grad_inputs \(i)", file: file) }
        rtol = (c["rtol"] as? Double) ?? 1e-4
        atol = (c["atol"] as? Double) ?? 1e-5
    }

    func input(_ i: Int) throws -> FixtureTensor {
        guard i < inputs.count, let t = inputs[i] else {
            throw ConformanceFileError(file: file, problem: "case \(name): op \(op) needs input \(i)")
        }
        return t
    }

    func attr<T>(_ key: String, _ default: T) -> T { attrs[key] as? T ?? `default` }

    /// Builds the op's output from differentiable leaves; returns the output and the leaves (nil for int inputs).
    func forward() throws -> (Tensor, [Tensor?]) {
        let leaves: [Tensor?] = inputs.map { t in t.flatMap { $0.isInt ? nil : $0.tensor.requiringGrad() } }
        func x(_ i: Int) throws -> Tensor {
            guard i < leaves.count, let t = leaves[i] else {
                throw ConformanceFileError(file: file, problem: "case \(name): op \(op) needs float input \(i)")
            }
            return t
        }
        let unaryOps: [String: (Tensor) -> Tensor] = [
            "relu": { $0.relu() }, "tanh": { $0.tanh() }, "sigmoid": { $0.sigmoid() }, "exp": { $0.exp() },
            "log": { $0.log() }, "sqrt": { $0.sqrt() }, "neg": { -$0 }, "logsigmoid": { $0.logSigmoid() },
            "silu": { $0.silu() }, "abs": { $0.abs() },
        ]
        let binaryOps: [String: (Tensor, Tensor) -> Tensor] = [
            "add": { $0 + $1 }, "sub": { $0 - $1 }, "mul": { $0 * $1 }, "div": { $0 / $1 },
        ]
        let y: Tensor
        if let f = unaryOps[op] { y = f(try x(0)) }
        else if let f = binaryOps[op] { y = f(try x(0), try x(1)) }
        else {
            switch op {
            case "matmul": y = Tensor.matmul(try x(0), try x(1))
            case "linear": y = Tensor.linear(try x(0), weight: try x(1), bias: inputs.count > 2 ? try x(2) : nil)
            case "gelu": y = try x(0).gelu(approximate: attr("approximate", "none") == "tanh")
            case "pow": y = try x(0).pow(Float(attr("exponent", 1.0)))
            case "sum", "mean":
                let t = try x(0)
                if let axis = attrs["axis"] as? Int {
                    y = op == "sum" ? t.sum(axis: axis, keepDim: attr("keepdim", false))
                                    : t.mean(axis: axis, keepDim: attr("keepdim", false))
                } else {
                    let all = op == "sum" ? t.sum() : t.mean()
                    y = attr("keepdim", false) ? all.reshaped([Int](repeating: 1, count: t.rank)) : all
                }
            case "max":
                let t = try x(0)
                if let axis = attrs["axis"] as? Int { y = t.max(axis: axis, keepDim: attr("keepdim", false)) } else { y = t.max() }
            case "softmax": y = try x(0).softmax(axis: attr("axis", -1))
            case "log_softmax": y = try x(0).logSoftmax(axis: attr("axis", -1))
            case "cross_entropy":
                let red = Tensor.Reduction(rawValue: attr("reduction", "mean")) ?? .mean
                y = Tensor.crossEntropy(try x(0), targets: try input(1).ints, reduction: red,
                                        ignoreIndex: attrs["ignore_index"] as? Int)
            case "mse_loss": y = Tensor.mseLoss(try x(0), try x(1))
            case "layer_norm":
                y = Tensor.layerNorm(try x(0), weight: inputs.count > 1 ? try x(1) : nil,
                                     bias: inputs.count > 2 ? try x(2) : nil, eps: Float(attr("eps", 1e-5)))
            case "embedding":
                let idx = try input(0)
                y = Tensor.embedding(idx.ints, shape: idx.shape, weight: try x(1))
            case "transpose": y = try x(0).transposed(attr("dim0", 0), attr("dim1", 1))
            case "reshape": y = try x(0).reshaped(attr("shape", [Int]()))
            case "causal_attention":
                y = Tensor.causalAttention(q: try x(0), k: try x(1), v: try x(2), scale: Float(attr("scale", 1.0)))
            default:
                throw ConformanceFileError(file: file, problem: "case \(name): unknown op \"\(op)\"")
            }
        }
        return (y, leaves)
    }

    /// nil if the case passes, else a description of the worst mismatch.
    func check() -> String? {
        let y: Tensor, leaves: [Tensor?]
        do { (y, leaves) = try forward() } catch { return "\(error)" }
        var problems: [String] = []
        if let p = compare("output", y, output) { problems.append(p) }
        if let gout = gradOutput, y.requiresGrad {
            guard gout.shape == y.shape else { return "grad_output shape \(gout.shape) vs output \(y.shape)" }
            y.backward(gout.tensor)
            for (i, want) in gradInputs.enumerated() {
                guard let want else { continue }
                guard i < leaves.count, let leaf = leaves[i] else { problems.append("grad_inputs[\(i)]: input is not differentiable"); continue }
                guard let got = leaf.grad else { problems.append("grad_inputs[\(i)]: no gradient computed"); continue }
                if let p = compare("grad_inputs[\(i)]", got, want) { problems.append(p) }
            }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    func compare(_ what: String, _ got: Tensor, _ want: FixtureTensor) -> String? {
        guard got.shape == want.shape else { return "\(what): shape \(got.shape), expected \(want.shape)" }
        var worst = 0.0, worstAt = -1, worstExcess = 0.0
        let g = got.scalars
        for (i, w) in want.values.enumerated() {
            let v = Double(g[i])
            if v.isNaN && w.isNaN { continue }
            if v == w { continue }   // equal infinities
            let err = abs(v - w)
            let excess = err - (atol + rtol * abs(w))
            if !(excess <= 0) && (worstAt < 0 || excess > worstExcess || err.isNaN) {
                worstAt = i; worst = err; worstExcess = excess
            }
        }
        guard worstAt >= 0 else { return nil }
        return "\(what): max error \(String(format: "%.3g", worst)) at index \(worstAt) (got \(g[worstAt]), want \(want.values[worstAt]))"
    }
}
