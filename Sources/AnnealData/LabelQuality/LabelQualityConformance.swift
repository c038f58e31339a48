// Conformance runner for `anneal-labelquality-conformance/1` fixture files
// (LABELQUALITY.md §2). Parses the file with Foundation's JSONDecoder, runs
// every case through Anneal's label-quality math and compares the results
// with the file's expectations.

import Foundation

/// The fixture format this runner understands.
public let labelQualityConformanceFormat = "anneal-labelquality-conformance/1"

/// Runs every case of an `anneal-labelquality-conformance/1` file.
///
/// Comparison rules (per case, LABELQUALITY.md §2): a float passes when
/// |got − expected| ≤ atol + rtol·|expected| (element-wise; `rtol`/`atol` from
/// the case, defaulting to 1e-9/1e-12, or 1e-6/1e-8 for `dawid_skene`);
/// integers, booleans, index lists and `null` (= undefined statistic) must
/// match exactly; every key of `expected` must be produced, extra results are
/// ignored.
///
/// Supported kinds: `cohen_kappa`, `fleiss_kappa`, `krippendorff_alpha`,
/// `confident_joint`, `label_issues`, `label_quality_scores`, `majority_vote`,
/// `dawid_skene`.
///
/// - Parameters:
///   - fileData: the raw JSON bytes.
///   - fileName: used in error messages.
/// - Returns: one entry per case, in file order; `failure` is `nil` when the
///   case passes, else a short message naming the worst mismatch (prefixed
///   `[strict]` for tier-"strict" cases).
/// - Throws: `LabelQualityError` naming the file (and case) when the file is
///   not valid JSON, has the wrong format tag, lacks required fields, has
///   fields of the wrong type, uses an unknown kind, or holds inputs the math
///   rejects (ragged tables, labels out of range, rows not summing to 1 …).
public func runLabelQualityConformance(fileData: Data, fileName: String) throws -> [(name: String, failure: String?)] {
    let root: LQJSON
    do {
        root = try JSONDecoder().decode(LQJSON.self, from: fileData)
    } catch let error as DecodingError {
        // JSONSerialization's error names the character position; use it for the message.
        var detail = LQJSON.describe(error)
        do {
            _ = try JSONSerialization.jsonObject(with: fileData, options: [.fragmentsAllowed])
        } catch {
            if let position = (error as NSError).userInfo["NSDebugDescription"] as? String { detail = position }
        }
        throw LabelQualityError("\(fileName): not valid JSON (\(detail))")
    } catch {
        throw LabelQualityError("\(fileName): not valid JSON (\(error))")
    }
    guard case .object(let top) = root else {
        throw LabelQualityError("\(fileName): the top level must be a JSON object, found \(root.typeName)")
    }
    guard let format = top["format"] else {
        throw LabelQualityError("\(fileName): missing \"format\" (expected \"\(labelQualityConformanceFormat)\")")
    }
    guard case .string(let tag) = format, tag == labelQualityConformanceFormat else {
        throw LabelQualityError("\(fileName): unsupported format \(format.brief) (expected \"\(labelQualityConformanceFormat)\")")
    }
    guard let casesValue = top["cases"] else {
        throw LabelQualityError("\(fileName): missing \"cases\" array")
    }
    guard case .array(let cases) = casesValue else {
        throw LabelQualityError("\(fileName): \"cases\" must be an array, found \(casesValue.typeName)")
    }
    var results: [(name: String, failure: String?)] = []
    results.reserveCapacity(cases.count)
    for (index, value) in cases.enumerated() {
        let runner = try LQCaseRunner(value, index: index, fileName: fileName)
        let failure: String?
        do {
            failure = try runner.run()
        } catch let error as LabelQualityError {
            throw LabelQualityError("\(fileName): case \(runner.label): \(error.message)", row: error.row)
        }
        results.append((runner.name, failure))
    }
    return results
}

// MARK: - JSON value

/// A decoded JSON value (numbers as Double).
enum LQJSON: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([LQJSON])
    case object([String: LQJSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        // JSONDecoder never reads `true`/`false` as a number (or vice versa),
        // so trying the common case first is safe.
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([LQJSON].self) { self = .array(a); return }
        self = .object(try c.decode([String: LQJSON].self))
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// A short rendering for messages.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .number(let d): return LQJSON.format(d)
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .array(let a):
            let head = a.prefix(8).map(\.brief).joined(separator: ", ")
            return "[" + head + (a.count > 8 ? ", … (\(a.count) items)" : "") + "]"
        case .object(let o): return "{" + o.keys.sorted().prefix(6).joined(separator: ", ") + (o.count > 6 ? ", …" : "") + "}"
        }
    }

    static func format(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let ctx), .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .keyNotFound(_, let ctx):
            var text = ctx.debugDescription
            if let underlying = ctx.underlyingError { text += " — \(underlying.localizedDescription)" }
            return text
        @unknown default:
            return String(describing: error)
        }
    }
}

// MARK: - Case runner

/// Parses and runs one case.
private struct LQCaseRunner {
    let name: String
    let kind: String
    let inputs: [String: LQJSON]
    let expected: [String: LQJSON]
    let rtol: Double
    let atol: Double
    let strict: Bool
    let label: String

    static let maxClasses = 1 << 20
    static let floatKeys: Set<String> = ["kappa", "alpha", "thresholds", "joint", "scores", "probas", "priors"]

    init(_ value: LQJSON, index: Int, fileName: String) throws {
        guard case .object(let c) = value else {
            throw LabelQualityError("\(fileName): case #\(index) must be an object, found \(value.typeName)")
        }
        guard case .string(let name)? = c["name"] else {
            throw LabelQualityError("\(fileName): case #\(index): missing or non-string \"name\"")
        }
        let label = "#\(index) '\(name)'"
        func bad(_ what: String) -> LabelQualityError {
            LabelQualityError("\(fileName): case \(label): \(what)")
        }
        guard case .string(let kind)? = c["kind"] else { throw bad("missing or non-string \"kind\"") }
        guard case .object(let inputs)? = c["inputs"] else { throw bad("missing \"inputs\" object") }
        guard case .object(let expected)? = c["expected"] else { throw bad("missing \"expected\" object") }
        let defaults: (Double, Double) = kind == "dawid_skene" ? (1e-6, 1e-8) : (1e-9, 1e-12)
        func tolerance(_ key: String, _ fallback: Double) throws -> Double {
            switch c[key] {
            case nil, .null?: return fallback
            case .number(let d)? where d >= 0 && d.isFinite: return d
            case let other?: throw bad("\"\(key)\" must be a non-negative number, found \(other.brief)")
            }
        }
        self.name = name
        self.kind = kind
        self.inputs = inputs
        self.expected = expected
        self.rtol = try tolerance("rtol", defaults.0)
        self.atol = try tolerance("atol", defaults.1)
        if case .string(let tier)? = c["tier"] { strict = tier == "strict" } else { strict = false }
        self.label = label
    }

    // MARK: Running

    /// Returns nil on pass, else a failure message. Throws on malformed input.
    func run() throws -> String? {
        let got: [String: LQJSON]
        switch kind {
        case "cohen_kappa": got = try cohenKappa()
        case "fleiss_kappa": got = try fleissKappa()
        case "krippendorff_alpha": got = try krippendorffAlpha()
        case "confident_joint": got = try confidentJoint()
        case "label_issues": got = try labelIssues()
        case "label_quality_scores": got = try labelQualityScores()
        case "majority_vote": got = try majorityVote()
        case "dawid_skene": got = try dawidSkene()
        default:
            throw LabelQualityError("unknown kind \"\(kind)\" (supported: cohen_kappa, fleiss_kappa, krippendorff_alpha, confident_joint, label_issues, label_quality_scores, majority_vote, dawid_skene)")
        }
        var problems: [String] = []
        for key in expected.keys.sorted() {
            guard let value = got[key] else {
                problems.append("\(key): not produced by kind \(kind)")
                continue
            }
            var cmp = LQComparison(rtol: rtol, atol: atol, float: Self.floatKeys.contains(key))
            cmp.compare(value, expected[key]!, path: key)
            if let message = cmp.message { problems.append(message) }
        }
        guard !problems.isEmpty else { return nil }
        let text = problems.prefix(3).joined(separator: "; ") + (problems.count > 3 ? "; … (\(problems.count) fields)" : "")
        return strict ? "[strict] " + text : text
    }

    // MARK: Kinds

    func cohenKappa() throws -> [String: LQJSON] {
        let y1 = try categories("y1")
        let y2 = try categories("y2")
        var labels: [LabelQuality.Category]? = nil
        if let v = inputs["labels"], v.isPresent { labels = try categories("labels") }
        let all = y1 + y2 + (labels ?? [])
        let hasInt = all.contains { if case .int = $0 { true } else { false } }
        let hasString = all.contains { if case .string = $0 { true } else { false } }
        if hasInt && hasString { throw LabelQualityError("inputs.y1/y2/labels mix integer and string labels") }
        let weights = try enumValue("weights", default: LabelQuality.KappaWeighting.none)
        return ["kappa": .optionalNumber(try LabelQuality.cohenKappa(y1, y2, labels: labels, weights: weights))]
    }

    func fleissKappa() throws -> [String: LQJSON] {
        let table = try intMatrix("table")
        var methodName = try string("method", default: "fleiss")
        if methodName == "uniform" { methodName = "randolph" }
        guard let method = LabelQuality.FleissMethod(rawValue: methodName) else {
            throw LabelQualityError("inputs.method: unknown value \"\(methodName)\" (expected fleiss or randolph)")
        }
        return ["kappa": .optionalNumber(try LabelQuality.fleissKappa(table: table, method: method))]
    }

    func krippendorffAlpha() throws -> [String: LQJSON] {
        let data = try optionalDoubleMatrix("reliability_data")
        let level = try enumValue("level", default: LabelQuality.KrippendorffLevel.interval)
        return ["alpha": .optionalNumber(try LabelQuality.krippendorffAlpha(reliabilityData: data, level: level))]
    }

    func confidentJoint() throws -> [String: LQJSON] {
        let labels = try intArray("labels")
        let p = try doubleMatrix("pred_probs")
        let a = try LabelQuality.analyzeConfidentJoint(labels: labels, predProbs: p)
        return [
            "thresholds": .numbers(a.thresholds),
            "confident_joint": .intMatrix(a.confidentJoint),
            "calibrated_confident_joint": .intMatrix(a.calibratedConfidentJoint),
            "joint": .array(a.joint.map { .numbers($0) }),
            "off_diagonal_indices": .ints(a.offDiagonalIndices),
            "num_label_issues": .number(Double(a.numLabelIssues)),
        ]
    }

    func labelIssues() throws -> [String: LQJSON] {
        let labels = try intArray("labels")
        let p = try doubleMatrix("pred_probs")
        var got: [String: LQJSON] = [:]
        let mask = try LabelQuality.findLabelIssues(labels: labels, predProbs: p)
        got["is_label_issue"] = .array(mask.map { .bool($0) })
        if expected["ranked_by_self_confidence"] != nil {
            got["ranked_by_self_confidence"] = .ints(try LabelQuality.rankLabelIssues(mask: mask, labels: labels, predProbs: p, method: .selfConfidence))
        }
        if expected["ranked_by_normalized_margin"] != nil {
            got["ranked_by_normalized_margin"] = .ints(try LabelQuality.rankLabelIssues(mask: mask, labels: labels, predProbs: p, method: .normalizedMargin))
        }
        if expected["ranked_by_confidence_weighted_entropy"] != nil {
            got["ranked_by_confidence_weighted_entropy"] = .ints(try LabelQuality.rankLabelIssues(mask: mask, labels: labels, predProbs: p, method: .confidenceWeightedEntropy))
        }
        if case .object(let wanted)? = expected["other_filters"] {
            var filters: [String: LQJSON] = [:]
            for key in wanted.keys {
                guard let filter = LabelQuality.LabelIssueFilter(rawValue: key) else { continue }
                let m = try LabelQuality.findLabelIssues(labels: labels, predProbs: p, filterBy: filter)
                filters[key] = .ints((0..<m.count).filter { m[$0] })
            }
            got["other_filters"] = .object(filters)
        }
        return got
    }

    func labelQualityScores() throws -> [String: LQJSON] {
        let labels = try intArray("labels")
        let p = try doubleMatrix("pred_probs")
        let method = try enumValue("method", default: LabelQuality.LabelQualityMethod.selfConfidence)
        let adjust = try bool("adjust_pred_probs", default: false)
        let scores = try LabelQuality.labelQualityScores(labels: labels, predProbs: p, method: method, adjustPredProbs: adjust)
        return ["scores": .numbers(scores)]
    }

    func majorityVote() throws -> [String: LQJSON] {
        let table = try optionalIntMatrix("labels_multiannotator")
        var p: [[Double]]? = nil
        if let v = inputs["pred_probs"], v.isPresent { p = try doubleMatrix("pred_probs") }
        let k = try optionalInt("num_classes")
        return ["labels": .ints(try LabelQuality.majorityVote(table, predProbs: p, numClasses: k))]
    }

    func dawidSkene() throws -> [String: LQJSON] {
        let table = try optionalIntMatrix("labels_multiannotator")
        let k = try optionalInt("num_classes")
        let nIter = try optionalInt("n_iter") ?? 100
        let tol = try double("tol", default: 1e-5)
        let r = try LabelQuality.dawidSkene(table, numClasses: k, maxIterations: nIter, tolerance: tol)
        return [
            "probas": .array(r.probas.map { .numbers($0) }),
            "priors": .numbers(r.priors),
            "labels": .ints(r.labels),
        ]
    }

    // MARK: Typed input access

    private func value(_ key: String) throws -> LQJSON {
        guard let v = inputs[key] else { throw LabelQualityError("inputs.\(key) is missing") }
        return v
    }

    private func typeError(_ key: String, _ what: String, _ found: LQJSON) -> LabelQualityError {
        LabelQualityError("inputs.\(key): expected \(what), found \(found.brief)")
    }

    private func toInt(_ v: LQJSON, _ key: String, _ at: String) throws -> Int {
        guard case .number(let d) = v, d == d.rounded(), abs(d) <= 9_007_199_254_740_992 else {
            throw LabelQualityError("inputs.\(key)\(at): expected an integer, found \(v.brief)")
        }
        return Int(d)
    }

    private func toDouble(_ v: LQJSON, _ key: String, _ at: String) throws -> Double {
        guard case .number(let d) = v else {
            throw LabelQualityError("inputs.\(key)\(at): expected a number, found \(v.brief)")
        }
        return d
    }

    private func array(_ key: String) throws -> [LQJSON] {
        let v = try value(key)
        guard case .array(let a) = v else { throw typeError(key, "an array", v) }
        return a
    }

    private func rows(_ key: String) throws -> [[LQJSON]] {
        try array(key).enumerated().map { i, row in
            guard case .array(let r) = row else {
                throw LabelQualityError("inputs.\(key) row \(i): expected an array, found \(row.brief)", row: i)
            }
            return r
        }
    }

    func intArray(_ key: String) throws -> [Int] {
        try array(key).enumerated().map { try toInt($1, key, "[\($0)]") }
    }

    func intMatrix(_ key: String) throws -> [[Int]] {
        try rows(key).enumerated().map { i, r in try r.enumerated().map { try toInt($1, key, "[\(i)][\($0)]") } }
    }

    func doubleMatrix(_ key: String) throws -> [[Double]] {
        try rows(key).enumerated().map { i, r in try r.enumerated().map { try toDouble($1, key, "[\(i)][\($0)]") } }
    }

    func optionalDoubleMatrix(_ key: String) throws -> [[Double?]] {
        try rows(key).enumerated().map { i, r in
            try r.enumerated().map { j, v in
                if case .null = v { return nil }
                return try toDouble(v, key, "[\(i)][\(j)]")
            }
        }
    }

    func optionalIntMatrix(_ key: String) throws -> [[Int?]] {
        try rows(key).enumerated().map { i, r in
            try r.enumerated().map { j, v in
                if case .null = v { return nil }
                return try toInt(v, key, "[\(i)][\(j)]")
            }
        }
    }

    func categories(_ key: String) throws -> [LabelQuality.Category] {
        try array(key).enumerated().map { i, v in
            switch v {
            case .string(let s): return .string(s)
            case .number: return .int(try toInt(v, key, "[\(i)]"))
            default: throw LabelQualityError("inputs.\(key)[\(i)]: expected an integer or string label, found \(v.brief)")
            }
        }
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = inputs[key], v.isPresent else { return nil }
        let n = try toInt(v, key, "")
        guard n >= 0, n <= Self.maxClasses else {
            throw LabelQualityError("inputs.\(key): \(n) is out of range 0…\(Self.maxClasses)")
        }
        return n
    }

    func string(_ key: String, default fallback: String) throws -> String {
        guard let v = inputs[key], v.isPresent else { return fallback }
        guard case .string(let s) = v else { throw typeError(key, "a string", v) }
        return s
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let v = inputs[key], v.isPresent else { return fallback }
        guard case .bool(let b) = v else { throw typeError(key, "true or false", v) }
        return b
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard let v = inputs[key], v.isPresent else { return fallback }
        return try toDouble(v, key, "")
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, default fallback: E) throws -> E where E.RawValue == String {
        let raw = try string(key, default: fallback.rawValue)
        guard let e = E(rawValue: raw) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw LabelQualityError("inputs.\(key): unknown value \"\(raw)\" (expected one of: \(allowed))")
        }
        return e
    }
}

private extension LQJSON {
    var isPresent: Bool { if case .null = self { false } else { true } }
    static func optionalNumber(_ d: Double?) -> LQJSON { d.map { .number($0) } ?? .null }
    static func numbers(_ a: [Double]) -> LQJSON { .array(a.map { $0.isNaN ? .null : .number($0) }) }
    static func ints(_ a: [Int]) -> LQJSON { .array(a.map { .number(Double($0)) }) }
    static func intMatrix(_ m: [[Int]]) -> LQJSON { .array(m.map { .ints($0) }) }
}

// MARK: - Comparison

/// Recursive comparison of a produced value against an expected one,
/// remembering the worst float error and the first exact mismatch.
private struct LQComparison {
    let rtol: Double
    let atol: Double
    let float: Bool
    var worstExcess = 0.0
    var worstText: String?
    var mismatch: String?

    init(rtol: Double, atol: Double, float: Bool) {
        self.rtol = rtol
        self.atol = atol
        self.float = float
    }

    var message: String? { mismatch ?? worstText }

    mutating func compare(_ got: LQJSON, _ want: LQJSON, path: String) {
        if mismatch != nil { return }
        switch (got, want) {
        case (.null, .null):
            return
        case let (.number(g), .number(w)):
            if float {
                let err = abs(g - w)
                let tol = atol + rtol * abs(w)
                if !(err <= tol) {
                    let excess = err.isNaN ? .infinity : err / max(tol, .leastNonzeroMagnitude)
                    if worstText == nil || excess > worstExcess {
                        worstExcess = excess
                        worstText = "\(path): got \(g), expected \(w) (|err| \(String(format: "%.3g", err)) > tol \(String(format: "%.3g", tol)))"
                    }
                }
            } else if g != w {
                mismatch = "\(path): got \(LQJSON.format(g)), expected \(LQJSON.format(w))"
            }
        case let (.bool(g), .bool(w)):
            if g != w { mismatch = "\(path): got \(g), expected \(w)" }
        case let (.string(g), .string(w)):
            if g != w { mismatch = "\(path): got \"\(g)\", expected \"\(w)\"" }
        case let (.array(g), .array(w)):
            if g.count != w.count {
                mismatch = "\(path): got \(g.count) entries \(got.brief), expected \(w.count) \(want.brief)"
                return
            }
            if !float, g.allSatisfy(\.isScalar), w.allSatisfy(\.isScalar) {
                // Exact list: report the whole list (index lists, masks).
                for i in 0..<g.count where !g[i].sameScalar(w[i]) {
                    mismatch = "\(path): first difference at [\(i)]: got \(g[i].brief), expected \(w[i].brief); got \(got.brief), expected \(want.brief)"
                    return
                }
                return
            }
            for i in 0..<g.count { compare(g[i], w[i], path: "\(path)[\(i)]") }
        case let (.object(g), .object(w)):
            for key in w.keys.sorted() {
                guard let gv = g[key] else {
                    mismatch = "\(path).\(key): not produced"
                    return
                }
                compare(gv, w[key]!, path: "\(path).\(key)")
            }
        default:
            mismatch = "\(path): got \(got.brief), expected \(want.brief)"
        }
    }
}

private extension LQJSON {
    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    func sameScalar(_ other: LQJSON) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        default: return false
        }
    }
}
