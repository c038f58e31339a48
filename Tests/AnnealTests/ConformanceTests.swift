// The PyTorch fixtures of ops.json, forward and backward, on every backend.

import Anneal
import Foundation
import Testing
import _TestSupport

@Suite struct ConformanceTests {
    @Test(arguments: BackendCase.all)
    func opsFixturePasses(_ b: BackendCase) throws {
        let data = try Data(contentsOf: resourceURL(Bundle.module, "ops.json"))
        let results = try b.run { try OpsConformance.run(data: data, file: "ops.json") }
        #expect(results.count >= 54)
        for r in results { #expect(r.failure == nil, "\(b): \(r.name): \(r.failure ?? "")") }
    }

    @Test func malformedFileNamesTheProblem() throws {
        let bad: [(String, String)] = [
            ("{not json", "not valid JSON"),
            (#"{"format": "other/1", "cases": []}"#, "format is other/1"),
            (#"{"format": "anneal-conformance/1"}"#, "\"cases\" is missing"),
            (#"{"format": "anneal-conformance/1", "cases": [{"name": "x", "op": "add", "inputs": [{"shape": [2], "data": [1]}], "output": {"shape": [2], "data": [1, 2]}}]}"#, "1 values for shape [2]"),
        ]
        for (text, message) in bad {
            #expect {
                _ = try OpsConformance.run(data: Data(text.utf8), file: "bad.json")
            } throws: { error in
                let d = "\(error)"
                return d.hasPrefix("bad.json") && d.contains(message)
            }
        }
    }

    @Test func aWrongValueFails() throws {
        let text = #"""
        {"format": "anneal-conformance/1", "cases": [
          {"name": "add_wrong", "op": "add", "attrs": {},
           "inputs": [{"shape": [2], "data": [1, 2]}, {"shape": [2], "data": [3, 4]}],
           "output": {"shape": [2], "data": [4, 7]}, "grad_output": {"shape": [2], "data": [1, 1]},
           "grad_inputs": [{"shape": [2], "data": [1, 1]}, {"shape": [2], "data": [1, 1]}], "rtol": 1e-4, "atol": 1e-5}]}
        """#
        let r = try OpsConformance.run(data: Data(text.utf8), file: "t.json")
        #expect(r.count == 1)
        #expect(r[0].failure?.contains("output") == true)
    }
}
