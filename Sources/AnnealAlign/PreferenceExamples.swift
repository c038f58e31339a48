// Preference data as token ids: TRL-format pairs and unpaired (KTO)
// examples tokenized, truncated to the context, and laid out as sequence
// batches; over-long examples with nothing left to score are dropped and counted.

import Anneal
import AnnealData

/// A preference pair as token ids, already truncated.
public struct TokenizedPair: Sendable, Equatable {
    /// Prompt ids (shared by both completions).
    public var prompt: [Int]
    /// Preferred completion ids.
    public var chosen: [Int]
    /// Dispreferred completion ids.
    public var rejected: [Int]
    /// The pair's `"margin"` (0 when absent).
    public var margin: Float
    /// 1-based line in the source file (0 for synthetic data).
    public var line: Int

    /// A pair.
    public init(prompt: [Int], chosen: [Int], rejected: [Int], margin: Float = 0, line: Int = 0) {
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected; self.margin = margin; self.line = line
    }

    /// prompt + chosen.
    public var chosenSequence: ScoredSequence { ScoredSequence(prompt: prompt, completion: chosen) }
    /// prompt + rejected.
    public var rejectedSequence: ScoredSequence { ScoredSequence(prompt: prompt, completion: rejected) }
}

/// An unpaired (KTO) example as token ids, already truncated.
public struct TokenizedCompletion: Sendable, Equatable {
    /// Prompt ids.
    public var prompt: [Int]
    /// Completion ids.
    public var completion: [Int]
    /// true if the completion is desirable.
    public var desirable: Bool
    /// 1-based line in the source file.
    public var line: Int

    /// An example.
    public init(prompt: [Int], completion: [Int], desirable: Bool, line: Int = 0) {
        self.prompt = prompt; self.completion = completion; self.desirable = desirable; self.line = line
    }
}

/// Tokenizing and truncating loaded preference data.
public enum PreferencePreparation {
    /// What a prepared example must keep after truncation.
    public enum Purpose: Sendable {
        /// Sequence log-probs (DPO, KTO): at least one scored completion token.
        case logProbs
        /// Reward models: at least one completion token.
        case reward

        func keeps(_ s: ScoredSequence) -> Bool { self == .logProbs ? s.scoredCount > 0 : !s.completion.isEmpty }
    }

    /// Encodes and truncates pairs. Returns the kept pairs and the source
    /// lines of the dropped ones (nothing left to score after truncation).
    /// - Throws: `DataError` naming `file:line` and the field for text the
    ///   tokenizer cannot encode.
    public static func pairs(_ pairs: [PreferencePair], file: String, truncation: Truncation, purpose: Purpose = .logProbs,
                             encode: (String) throws -> [Int]) throws -> (pairs: [TokenizedPair], droppedLines: [Int]) {
        var kept: [TokenizedPair] = [], dropped: [Int] = []
        for p in pairs {
            func field(_ name: String, _ text: String) throws -> [Int] { try encoded(text, field: name, file: file, line: p.line, encode) }
            let prompt = truncation.prompt(try field("prompt", p.prompt))
            let chosen = truncation.completion(try field("chosen", p.chosen), after: prompt)
            let rejected = truncation.completion(try field("rejected", p.rejected), after: prompt)
            let pair = TokenizedPair(prompt: prompt, chosen: chosen, rejected: rejected, margin: Float(p.margin ?? 0), line: p.line)
            if purpose.keeps(pair.chosenSequence) && purpose.keeps(pair.rejectedSequence) { kept.append(pair) } else { dropped.append(p.line) }
        }
        return (kept, dropped)
    }

    /// Encodes and truncates unpaired (KTO) examples; as `pairs`.
    public static func unpaired(_ examples: [UnpairedPreference], file: String, truncation: Truncation,
                                encode: (String) throws -> [Int]) throws -> (examples: [TokenizedCompletion], droppedLines: [Int]) {
        var kept: [TokenizedCompletion] = [], dropped: [Int] = []
        for e in examples {
            let s = truncation.apply(prompt: try encoded(e.prompt, field: "prompt", file: file, line: e.line, encode),
                                     completion: try encoded(e.completion, field: "completion", file: file, line: e.line, encode))
            if s.scoredCount > 0 {
                kept.append(TokenizedCompletion(prompt: s.prompt, completion: s.completion, desirable: e.label, line: e.line))
            } else { dropped.append(e.line) }
        }
        return (kept, dropped)
    }

    static func encoded(_ text: String, field: String, file: String, line: Int, _ encode: (String) throws -> [Int]) throws -> [Int] {
        do { return try encode(text) } catch let e as DataError {
            throw DataError(file: file, line: line, message: "field \"\(field)\": \(e.message)")
        }
    }
}

/// A training set for the DPO trainer: pairs, or unpaired KTO examples.
///
/// Every example contributes two sequences to a batch: (chosen, rejected)
/// for a pair; for a KTO example (its completion, a mismatched completion)
/// where the mismatch, used only for the KL estimate, is example i's prompt
/// followed by the completion of example (i + 1) mod N (cut to fit).
public enum PreferenceExamples: Sendable {
    /// Preference pairs.
    case paired([TokenizedPair])
    /// KTO examples and the truncation for their mismatched sequences.
    case unpaired([TokenizedCompletion], truncation: Truncation)

    /// Number of examples N.
    public var count: Int {
        switch self {
        case .paired(let p): p.count
        case .unpaired(let u, _): u.count
        }
    }

    /// The two sequences example `i` contributes.
    public func sequences(_ i: Int) -> (ScoredSequence, ScoredSequence) {
        switch self {
        case .paired(let p): return (p[i].chosenSequence, p[i].rejectedSequence)
        case .unpaired(let u, let truncation):
            let e = u[i], partner = u[(i + 1) % u.count]
            return (ScoredSequence(prompt: e.prompt, completion: e.completion),
                    ScoredSequence(prompt: e.prompt, completion: truncation.completion(partner.completion, after: e.prompt)))
        }
    }

    /// The batch of examples `indices`: all first sequences, then all second ones ([2B, T]).
    public func batch(_ indices: [Int], padToken: Int = 0) -> SequenceBatch {
        let seqs = indices.map { sequences($0) }
        return SequenceBatch(seqs.map(\.0) + seqs.map(\.1), padToken: padToken)
    }

    /// KTO labels of `indices` (all true for pairs).
    public func desirable(_ indices: [Int]) -> [Bool] {
        switch self {
        case .paired: indices.map { _ in true }
        case .unpaired(let u, _): indices.map { u[$0].desirable }
        }
    }

    /// A 64-bit FNV-1a hash of every example's token ids (and labels): it
    /// identifies the data and its truncation for the reference-log-prob cache.
    public var fingerprint: UInt64 {
        var h = FNV1a()
        for i in 0..<count {
            let (a, b) = sequences(i)
            for s in [a, b] {
                h.add(s.prompt.count); h.add(s.prompt); h.add(s.completion.count); h.add(s.completion)
            }
        }
        h.add(desirable(Array(0..<count)).map { $0 ? 1 : 0 })
        return h.value
    }
}

/// 64-bit FNV-1a over integers and floats (their bytes).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func addByte(_ b: UInt8) { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    mutating func add(_ x: Int) { var v = UInt64(bitPattern: Int64(x)); for _ in 0..<8 { addByte(UInt8(v & 0xFF)); v >>= 8 } }
    mutating func add(_ xs: [Int]) { for x in xs { add(x) } }
    mutating func add(_ xs: UnsafeBufferPointer<Float>) { for x in xs { add(Int(x.bitPattern)) } }
    mutating func add(_ s: String) { for b in s.utf8 { addByte(b) } }
}
