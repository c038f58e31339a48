// preference.json (PyTorch values of TRL's formulas) on every backend, files
// derived from it with other shapes, wrong expected values, malformed files.

import Anneal
import AnnealAlign
import Foundation
import Testing
import _TestSupport

private func fixtureData() throws -> Data { try Data(contentsOf: resourceURL(Bundle.module, "preference.json")) }

private func fixtureCases() throws -> [[String: Any]] {
    let top = try JSONSerialization.jsonObject(with: fixtureData()) as! [String: Any]
    return top["cases"] as! [[String: Any]]
}

private func file(_ cases: [[String: Any]]) throws -> Data {
    try JSONSerialization.data(withJSONObject: ["format": PreferenceConformance.format, "cases": cases])
}

@Suite struct PreferenceConformanceTests {
    @Test(arguments: BackendCase.all)
    func everyFixtureCasePasses(_ b: BackendCase) throws {
        let data = try fixtureData()
        let results = try b.run { try PreferenceConformance.run(data: data, file: "preference.json") }
        #expect(results.count == 42)
        for r in results { #expect(r.failure == nil, "\(b): \(r.name): \(r.failure ?? "")") }
        // Every layout and every pairwise loss type is exercised.
        let names = Set(results.map(\.name))
        for t in PairwiseLossType.allCases { #expect(names.contains("\(t.rawValue)_0") && names.contains("\(t.rawValue)_1")) }
        #expect(names.contains("kto_0") && names.contains("bradley_terry_0") && names.contains("weighted_0"))
    }

    /// A new file of the same format with other shapes: each per-pair case cut
    /// to its first pairs (loss = mean of those pairs' losses, gradients
    /// rescaled by N/n), keeping PyTorch's per-pair values.
    @Test func acceptsOtherShapes() throws {
        var derived: [[String: Any]] = []
        for c in try fixtureCases() {
            guard let type = c["loss_type"] as? String, !["aot", "aot_unpaired", "kto", "bradley_terry"].contains(type) else { continue }
            let n = (c["chosen_logps"] as! [Double]).count, keep = 3
            var d = c
            for key in ["chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps", "chosen_lengths",
                        "rejected_lengths", "losses", "chosen_rewards", "rejected_rewards"] {
                d[key] = Array((c[key] as! [Any]).prefix(keep))
            }
            for key in ["grad_chosen_logps", "grad_rejected_logps"] {
                d[key] = (c[key] as! [Double]).prefix(keep).map { $0 * Double(n) / Double(keep) }
            }
            let losses = d["losses"] as! [Double]
            d["loss"] = losses.reduce(0, +) / Double(keep)
            d["name"] = "\(c["name"]!)_first\(keep)"
            derived.append(d)
        }
        #expect(derived.count == 30)
        let results = try PreferenceConformance.run(data: try file(derived), file: "derived.json")
        for r in results { #expect(r.failure == nil, "\(r.name): \(r.failure ?? "")") }
    }

    @Test(arguments: [("sigmoid_0", "loss"), ("orpo_or_1", "grad_chosen_logps"), ("kto_1", "kl"),
                      ("bradley_terry_2", "grad_rejected_rewards"), ("weighted_1", "chosen_rewards"), ("aot_0", "losses")])
    func aWrongExpectedValueFails(_ name: String, _ field: String) throws {
        var c = try fixtureCases().first { $0["name"] as? String == name }!
        if let list = c[field] as? [Double] {
            var l = list
            l[l.count / 2] = l[l.count / 2] * 1.01 + 1e-3
            c[field] = l
        } else {
            c[field] = (c[field] as! Double) * 1.01 + 1e-3
        }
        let results = try PreferenceConformance.run(data: try file([c]), file: "wrong.json")
        #expect(results.count == 1)
        #expect(results[0].failure?.contains(field) == true, "\(results[0].failure ?? "passed")")
    }

    @Test func unknownLossTypeFailsItsCase() throws {
        var c = try fixtureCases()[0]
        c["loss_type"] = "sigmoidal"
        let r = try PreferenceConformance.run(data: try file([c]), file: "u.json")
        #expect(r[0].failure?.contains("unknown loss_type \"sigmoidal\"") == true)
    }

    @Test func malformedFilesNameTheFileAndProblem() throws {
        let sigmoid = try fixtureCases()[0]
        func edited(_ change: (inout [String: Any]) -> Void) throws -> String {
            var c = sigmoid
            change(&c)
            return String(decoding: try file([c]), as: UTF8.self)
        }
        let bad: [(String, String)] = [
            ("{oops", "not valid JSON"),
            ("[1, 2]", "top level is not an object"),
            (#"{"format": "anneal-conformance/1", "cases": []}"#, "format is anneal-conformance/1"),
            (#"{"format": "anneal-preference-conformance/1"}"#, "\"cases\" is missing"),
            (#"{"format": "anneal-preference-conformance/1", "cases": [3]}"#, "case 0 is not an object"),
            (try edited { $0["rejected_logps"] = [1.0] }, "field \"rejected_logps\": 1 entries, expected"),
            (try edited { $0.removeValue(forKey: "beta") }, "field \"beta\": missing"),
            (try edited { $0["chosen_logps"] = ["x", 1] }, "field \"chosen_logps\": entry 0 is not a number"),
            (try edited { $0["chosen_lengths"] = ($0["chosen_lengths"] as! [Double]).map { _ in 0.0 } }, "lengths must be positive"),
            (try edited { $0["loss_type"] = 5 }, "field \"loss_type\""),
            (try edited { $0["loss_type"] = "kto" }, "field \"logps\": missing"),
            (try edited { $0["loss_type"] = "bradley_terry"; $0.removeValue(forKey: "chosen_rewards") }, "field \"chosen_rewards\": missing"),
            (try edited { $0["loss_type"] = "kto"; $0["logps"] = [1.0, 2.0]; $0["ref_logps"] = [1.0, 2.0]; $0["labels"] = [true, 1] },
             "field \"labels\": entry 1 is not a boolean"),
        ]
        for (text, message) in bad {
            do {
                let r = try PreferenceConformance.run(data: Data(text.utf8), file: "bad.json")
                Issue.record("no error for a file expected to fail with \"\(message)\": \(r.map { "\($0.name): \($0.failure ?? "pass")" })")
            } catch let e as ConformanceFileError {
                #expect(e.file == "bad.json" && "\(e)".contains(message), "\(e) does not say \"\(message)\"")
            }
        }
    }
}
