// Runs `anneal-preference-conformance/1` fixture files (PyTorch float64
// values of TRL's formulas) against this module's losses: loss, per-pair
// losses, rewards and gradients of every case.

import Anneal
import Foundation

/// The `anneal-preference-conformance/1` runner (format in
/// shared/conformance/README.md). Three layouts, chosen by `loss_type`:
/// pairwise DPO-family losses (a type name, or a list with `loss_weights`),
/// `"kto"`, and `"bradley_terry"`. A value passes when
/// |got − want| ≤ atol + rtol·|want| elementwise (float32 computation).
public enum PreferenceConformance {
    /// The format tag this runner accepts.
    public static let format = "anneal-preference-conformance/1"

    /// Checks every case of a fixture file on the current backend.
    ///
    /// Throws `ConformanceFileError` (naming the file, and the case and field
    /// where one is at fault) for a file that is not JSON, has another format,
    /// or has a case with a missing, mistyped or mis-sized field. An unknown
    /// loss type fails that case only.
    public static func run(data: Data, file: String) throws -> [ConformanceResult] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConformanceFileError(file: file, problem: "not valid JSON (\(error.localizedDescription))")
        }
        guard let top = root as? [String: Any] else { throw ConformanceFileError(file: file, problem: "top level is not an object") }
        guard let fmt = top["format"] as? String, fmt == format else {
            throw ConformanceFileError(file: file, problem: "format is \(top["format"].map { "\($0)" } ?? "missing"), expected \(format)")
        }
        guard let cases = top["cases"] as? [Any] else {
            throw ConformanceFileError(file: file, problem: "\"cases\" is missing or not a list")
        }
        return try cases.enumerated().map { index, any in
            guard let object = any as? [String: Any] else {
                throw ConformanceFileError(file: file, problem: "case \(index) is not an object")
            }
            let c = CaseReader(object: object, file: file, index: index)
            return ConformanceResult(name: c.name, failure: try c.check())
        }
    }
}

/// Typed access to one case's fields; every error names file, case and field.
struct CaseReader {
    let object: [String: Any]
    let file: String
    let index: Int
    var name: String { object["name"] as? String ?? "case \(index)" }

    func fail(_ field: String, _ problem: String) -> ConformanceFileError {
        ConformanceFileError(file: file, problem: "case \(index) (\(name)): field \"\(field)\": \(problem)")
    }

    /// A JSON number (or "nan"/"inf" string) as Double; booleans are rejected.
    static func double(_ any: Any) -> Double? {
        if let n = any as? NSNumber {
            if isJSONBool(n) { return nil }
            return n.doubleValue
        }
        if let s = any as? String, let d = Double(s) { return d }
        return nil
    }

    func number(_ key: String, default value: Double? = nil) throws -> Double {
        guard let any = object[key], !(any is NSNull) else {
            if let value { return value }
            throw fail(key, "missing")
        }
        guard let d = Self.double(any) else { throw fail(key, "expected a number, found \(any)") }
        return d
    }

    func optionalNumbers(_ key: String, count: Int?) throws -> [Double]? {
        guard let any = object[key], !(any is NSNull) else { return nil }
        guard let list = any as? [Any] else { throw fail(key, "expected a list of numbers") }
        let values = try list.enumerated().map { i, v in
            guard let d = Self.double(v) else { throw fail(key, "entry \(i) is not a number (\(v))") }
            return d
        }
        if let count, values.count != count { throw fail(key, "\(values.count) entries, expected \(count)") }
        return values
    }

    func numbers(_ key: String, count: Int?) throws -> [Double] {
        guard let values = try optionalNumbers(key, count: count) else { throw fail(key, "missing") }
        guard !values.isEmpty else { throw fail(key, "empty list") }
        return values
    }

    func bools(_ key: String, count: Int) throws -> [Bool] {
        guard let list = object[key] as? [Any] else { throw fail(key, "missing or not a list") }
        guard list.count == count else { throw fail(key, "\(list.count) entries, expected \(count)") }
        return try list.enumerated().map { i, v in
            if let n = v as? NSNumber, isJSONBool(n) { return n.boolValue }
            throw fail(key, "entry \(i) is not a boolean (\(v))")
        }
    }

    func attr(_ key: String, default value: Double) throws -> Double {
        guard let attrs = object["attrs"], !(attrs is NSNull) else { return value }
        guard let dict = attrs as? [String: Any] else { throw fail("attrs", "expected an object") }
        guard let any = dict[key], !(any is NSNull) else { return value }
        guard let d = Self.double(any) else { throw fail("attrs", "\"\(key)\" is not a number") }
        return d
    }

    var tolerance: (rtol: Double, atol: Double) {
        get throws { (try number("rtol", default: 1e-4), try number("atol", default: 1e-6)) }
    }

    /// nil when the case passes, else every mismatch; throws for a malformed case.
    func check() throws -> String? {
        let type = object["loss_type"]
        if let t = type as? String, t == "kto" { return try checkKTO() }
        if let t = type as? String, t == "bradley_terry" { return try checkBradleyTerry() }
        let names: [String]
        if let t = type as? String { names = [t] } else if let list = type as? [Any], !list.isEmpty, let strings = list as? [String] {
            names = strings
        } else {
            throw fail("loss_type", type == nil ? "missing" : "expected a name or a non-empty list of names")
        }
        var types: [PairwiseLossType] = []
        for n in names {
            guard let t = PairwiseLossType(rawValue: n) else { return "unknown loss_type \"\(n)\"" }
            types.append(t)
        }
        return try checkPairwise(types)
    }

    func checkPairwise(_ types: [PairwiseLossType]) throws -> String? {
        let chosen = try numbers("chosen_logps", count: nil)
        let n = chosen.count
        let rejected = try numbers("rejected_logps", count: n)
        let referenceFree = types.allSatisfy(\.isReferenceFree)
        let refC = referenceFree ? try optionalNumbers("ref_chosen_logps", count: n) : try numbers("ref_chosen_logps", count: n)
        let refR = referenceFree ? try optionalNumbers("ref_rejected_logps", count: n) : try numbers("ref_rejected_logps", count: n)
        let lenC = try optionalNumbers("chosen_lengths", count: n) ?? [Double](repeating: 1, count: n)
        let lenR = try optionalNumbers("rejected_lengths", count: n) ?? [Double](repeating: 1, count: n)
        for (key, lens) in [("chosen_lengths", lenC), ("rejected_lengths", lenR)] where lens.contains(where: { !($0 > 0) }) {
            throw fail(key, "lengths must be positive")
        }
        let weights = types.count > 1 ? try optionalNumbers("loss_weights", count: types.count) : nil
        let beta = try number("beta")
        let eps = try number("label_smoothing", default: 0)
        let loss = PreferenceLoss(types, weights: weights?.map(Float.init), beta: Float(beta), labelSmoothing: Float(eps),
                                  discopopTau: Float(try attr("tau", default: 0.05)),
                                  simpoGamma: Float(try attr("gamma", default: 0.5)))
        let expectedLoss = try number("loss")
        let expectedLosses = try optionalNumbers("losses", count: n)
        let expectedRewards = (try optionalNumbers("chosen_rewards", count: n), try optionalNumbers("rejected_rewards", count: n))
        let expectedGrads = (try optionalNumbers("grad_chosen_logps", count: n), try optionalNumbers("grad_rejected_logps", count: n))
        let tol = try tolerance

        let c = tensor(chosen).requiringGrad(), r = tensor(rejected).requiringGrad()
        let lp = PairLogProbs(chosen: c, rejected: r, referenceChosen: refC.map(tensor), referenceRejected: refR.map(tensor),
                              chosenLengths: tensor(lenC), rejectedLengths: tensor(lenR))
        let result = loss(lp)
        var problems = Comparison(tol)
        problems.check("loss", [result.loss.item()], [expectedLoss])
        if let want = expectedLosses {
            var perPair = result.losses[0] * loss.weights[0]
            for (l, w) in zip(result.losses.dropFirst(), loss.weights.dropFirst()) { perPair = perPair + l * w }
            problems.check("losses", perPair.scalars, want)
        }
        if let want = expectedRewards.0 { problems.check("chosen_rewards", result.chosenRewards.scalars, want) }
        if let want = expectedRewards.1 { problems.check("rejected_rewards", result.rejectedRewards.scalars, want) }
        result.loss.backward()
        if let want = expectedGrads.0 { problems.check("grad_chosen_logps", c.grad?.scalars, want) }
        if let want = expectedGrads.1 { problems.check("grad_rejected_logps", r.grad?.scalars, want) }
        return problems.summary
    }

    func checkKTO() throws -> String? {
        let logps = try numbers("logps", count: nil)
        let n = logps.count
        let ref = try numbers("ref_logps", count: n)
        let labels = try bools("labels", count: n)
        let kl = try numbers("kl_logps", count: nil)
        let refKL = try numbers("ref_kl_logps", count: kl.count)
        let loss = KTOLoss(beta: Float(try number("beta")),
                           desirableWeight: Float(try attr("desirable_weight", default: 1)),
                           undesirableWeight: Float(try attr("undesirable_weight", default: 1)))
        let expectedLoss = try number("loss")
        let expectedKL = object["kl"] == nil ? nil : try number("kl")
        let expectedLosses = try optionalNumbers("losses", count: n)
        let expectedGrad = try optionalNumbers("grad_logps", count: n)
        var problems = Comparison(try tolerance)

        let x = tensor(logps).requiringGrad()
        let result = loss(logps: x, referenceLogps: tensor(ref), desirable: labels, klLogps: tensor(kl), referenceKLLogps: tensor(refKL))
        problems.check("loss", [result.loss.item()], [expectedLoss])
        if let want = expectedKL { problems.check("kl", [result.kl], [want]) }
        if let want = expectedLosses { problems.check("losses", result.losses.scalars, want) }
        result.loss.backward()
        if let want = expectedGrad { problems.check("grad_logps", x.grad?.scalars, want) }
        return problems.summary
    }

    func checkBradleyTerry() throws -> String? {
        let chosen = try numbers("chosen_rewards", count: nil)
        let n = chosen.count
        let rejected = try numbers("rejected_rewards", count: n)
        let margin = try optionalNumbers("margin", count: n)
        let loss = BradleyTerryLoss(centerRewardsCoefficient: Float(try attr("center_rewards_coefficient", default: 0)))
        let expectedLoss = try number("loss")
        let expectedAccuracy = object["accuracy"] == nil ? nil : try number("accuracy")
        let expectedGrads = (try optionalNumbers("grad_chosen_rewards", count: n), try optionalNumbers("grad_rejected_rewards", count: n))
        var problems = Comparison(try tolerance)

        let c = tensor(chosen).requiringGrad(), r = tensor(rejected).requiringGrad()
        let result = loss(chosen: c, rejected: r, margin: margin.map(tensor))
        problems.check("loss", [result.loss.item()], [expectedLoss])
        if let want = expectedAccuracy { problems.check("accuracy", [result.accuracy], [want]) }
        result.loss.backward()
        if let want = expectedGrads.0 { problems.check("grad_chosen_rewards", c.grad?.scalars, want) }
        if let want = expectedGrads.1 { problems.check("grad_rejected_rewards", r.grad?.scalars, want) }
        return problems.summary
    }

    func tensor(_ values: [Double]) -> Tensor { Tensor(values.map { Float($0) }) }
}

/// Collects mismatches of computed float32 values against expected ones.
struct Comparison {
    let rtol: Double, atol: Double
    var problems: [String] = []

    init(_ tolerance: (rtol: Double, atol: Double)) { rtol = tolerance.rtol; atol = tolerance.atol }

    /// Records the worst violation of |got − want| ≤ atol + rtol·|want| (NaN matches NaN).
    mutating func check(_ what: String, _ got: [Float]?, _ want: [Double]) {
        guard let got else { problems.append("\(what): not computed"); return }
        guard got.count == want.count else { problems.append("\(what): \(got.count) values, expected \(want.count)"); return }
        var worst: (index: Int, excess: Double)? = nil
        for (i, (g, w)) in zip(got, want).enumerated() {
            let v = Double(g)
            if (v.isNaN && w.isNaN) || v == w { continue }
            let excess = abs(v - w) - (atol + rtol * abs(w))
            if !(excess <= 0), worst == nil || excess.isNaN || excess > worst!.excess { worst = (i, excess) }
        }
        if let (i, _) = worst {
            problems.append("\(what)[\(i)]: got \(got[i]), want \(want[i]) (error \(String(format: "%.3g", abs(Double(got[i]) - want[i]))))")
        }
    }

    /// nil if nothing failed.
    var summary: String? { problems.isEmpty ? nil : problems.joined(separator: "; ") }
}

/// True when a JSON value parsed by JSONSerialization is a boolean (it bridges
/// both booleans and numbers to NSNumber; booleans have the ObjC type "c").
func isJSONBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
