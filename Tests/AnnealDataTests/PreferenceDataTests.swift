// Tests for the TRL-style JSONL preference readers.

import Foundation
import Testing
import AnnealData

private func pairs(_ text: String) throws -> [PreferencePair] {
    let url = try DataIOTestSupport.file("prefs.jsonl", text)
    defer { DataIOTestSupport.cleanUp(url) }
    return try PreferenceData.loadPairs(url)
}

private func unpaired(_ text: String) throws -> [UnpairedPreference] {
    let url = try DataIOTestSupport.file("kto.jsonl", text)
    defer { DataIOTestSupport.cleanUp(url) }
    return try PreferenceData.loadUnpaired(url)
}

private func pairsError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> DataError? {
    DataIOTestSupport.error(sourceLocation: sourceLocation) { _ = try pairs(text) }
}

@Suite struct PreferenceDataTests {
    @Test func explicitAndImplicitPromptsWithMargin() throws {
        let text = """
        {"prompt": "2+2=", "chosen": "4", "rejected": "5", "margin": 1.5}

        {"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no"}\r
        {"prompt": "", "chosen": "a", "rejected": "b", "margin": null, "extra": [1, 2]}
        """
        let p = try pairs(text)
        #expect(p.count == 3)
        #expect(p[0] == PreferencePair(prompt: "2+2=", chosen: "4", rejected: "5", margin: 1.5, promptIsImplicit: false, line: 1))
        #expect(p[1] == PreferencePair(prompt: "Q: hi A:", chosen: " yes", rejected: " no", margin: nil, promptIsImplicit: true, line: 3))
        #expect(p[2].prompt == "" && p[2].margin == nil && p[2].line == 4)
    }

    @Test func implicitPromptIsAScalarPrefix() {
        let r = PreferenceData.implicitPrompt(chosen: "The answer is 42.", rejected: "The answer is 41.")
        #expect(r.prompt == "The answer is 4" && r.chosen == "2." && r.rejected == "1.")
        // e + combining acute vs e + combining grave share only the scalar "e".
        let accents = PreferenceData.implicitPrompt(chosen: "ce\u{301}", rejected: "ce\u{300}")
        #expect(accents.prompt == "ce")
        #expect(accents.chosen == "\u{301}")
        let none = PreferenceData.implicitPrompt(chosen: "yes", rejected: "no")
        #expect(none.prompt == "" && none.chosen == "yes" && none.rejected == "no")
        let space = PreferenceData.implicitPrompt(chosen: " a", rejected: " b")
        #expect(space.prompt == "" && space.chosen == " a")
    }

    @Test func errorsNameLineAndField() {
        #expect(pairsError(#"{"prompt":"p","chosen":"a","rejected":"b"}"# + "\n" + #"{"prompt":"p","chosen":"a"}"#)?.description
            == #"prefs.jsonl:2: field "rejected": missing"#)
        #expect(pairsError(#"{"prompt":"p","chosen":7,"rejected":"b"}"#)?.description
            == #"prefs.jsonl:1: field "chosen": expected a string, found number"#)
        let conversational = pairsError(#"{"chosen":[{"role":"user","content":"hi"}],"rejected":"b"}"#)
        #expect(conversational?.message.contains("conversational message lists are not supported") == true)
        #expect(pairsError(#"{"prompt":"p","chosen":"","rejected":"b"}"#)?.description
            == #"prefs.jsonl:1: field "chosen": empty completion"#)
        #expect(pairsError(#"{"prompt":5,"chosen":"a","rejected":"b"}"#)?.message == #"field "prompt": expected a string, found number"#)
        #expect(pairsError(#"{"prompt":"p","chosen":"a","rejected":"b","margin":"big"}"#)?.message
            == #"field "margin": expected a number, found string"#)
        let invalid = pairsError("\n\n" + #"{"chosen": "a", "rejected": "b",}"#)
        #expect(invalid?.line == 3)
        #expect(invalid?.message.hasPrefix("invalid JSON") == true)
        #expect(invalid?.offset == 2 + 32)
        #expect(pairsError("[1, 2]")?.description == "prefs.jsonl:1: expected a JSON object, found array")
        #expect(pairsError(#"{"chosen":"same","rejected":"same"}"#)?.message == #"fields "chosen" and "rejected" are identical"#)
        let prefix = pairsError(#"{"chosen":"Hello there","rejected":"Hello there, friend"}"#)
        #expect(prefix?.message.hasPrefix(#"field "chosen": empty completion"#) == true)
        let badUTF8 = DataIOTestSupport.error {
            let url = try DataIOTestSupport.file("prefs.jsonl", bytes: Array(#"{"chosen":"a","rejected":"b"}"#.utf8) + [0x0A, 0x7B, 0xC3])
            defer { DataIOTestSupport.cleanUp(url) }
            _ = try PreferenceData.loadPairs(url)
        }
        #expect(badUTF8?.line == 2 && badUTF8?.offset == 31)
    }

    @Test func unpairedKTOFormat() throws {
        let u = try unpaired("""
        {"prompt": "Hi", "completion": " there", "label": true}
        {"prompt": "Hi", "completion": " go away", "label": false}
        """)
        #expect(u == [
            UnpairedPreference(prompt: "Hi", completion: " there", label: true, line: 1),
            UnpairedPreference(prompt: "Hi", completion: " go away", label: false, line: 2),
        ])
        func ktoError(_ text: String) -> DataError? { DataIOTestSupport.error { _ = try unpaired(text) } }
        #expect(ktoError(#"{"prompt":"p","completion":"c","label":"true"}"#)?.description
            == #"kto.jsonl:1: field "label": expected a boolean (true/false), found string"#)
        #expect(ktoError(#"{"prompt":"p","completion":"c","label":1}"#)?.message.contains(#""label""#) == true)
        #expect(ktoError(#"{"prompt":"p","completion":"c"}"#)?.message == #"field "label": missing"#)
        #expect(ktoError(#"{"prompt":"p","completion":"","label":true}"#)?.message == #"field "completion": empty completion"#)
        #expect(ktoError(#"{"completion":"c","label":true}"#)?.message == #"field "prompt": missing"#)
    }

    @Test func jsonEscapesAreDecoded() throws {
        let p = try pairs(#"{"prompt":"say \"hi\"\n","chosen":"\u00e9\ud83c\udf89","rejected":"\\t"}"#)
        #expect(p[0].prompt == "say \"hi\"\n")
        #expect(p[0].chosen == "é🎉")
        #expect(p[0].rejected == "\\t")
        #expect(pairsError(#"{"prompt":"\ud83c","chosen":"a","rejected":"b"}"#)?.message.contains("surrogate") == true)
    }
}
