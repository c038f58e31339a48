// Reference-model log-probs computed once for a whole data set and cached in
// a safetensors file, so DPO training needs no reference model in memory.

import Anneal
import AnnealData
import AnnealNN
import Foundation

/// Sequence log-probs of the reference model for every example of a
/// `PreferenceExamples` set: `first[i]`, `second[i]` are example i's chosen and
/// rejected log-probs (KTO: its completion and its mismatched KL completion).
///
/// File format (`save`/`load`): safetensors with F32 tensors `first` [N] and
/// `second` [N]; metadata `format` = `anneal-reference-logps/1`, `examples` = N,
/// `data_fingerprint` and `model_fingerprint` (16 hex digits, FNV-1a of the
/// token ids and of the reference weights).
public struct ReferenceLogProbs: Sendable, Equatable {
    /// The format tag in the metadata.
    public static let format = "anneal-reference-logps/1"
    /// Chosen (or KTO completion) log-probs [N].
    public var first: [Float]
    /// Rejected (or KTO KL-completion) log-probs [N].
    public var second: [Float]
    /// `PreferenceExamples.fingerprint` of the data they were computed on.
    public var dataFingerprint: UInt64
    /// `Module.weightsFingerprint` of the reference model.
    public var modelFingerprint: UInt64

    /// Values and their provenance.
    public init(first: [Float], second: [Float], dataFingerprint: UInt64, modelFingerprint: UInt64) {
        require(first.count == second.count, "reference log-probs: \(first.count) first vs \(second.count) second")
        self.first = first; self.second = second
        self.dataFingerprint = dataFingerprint; self.modelFingerprint = modelFingerprint
    }

    /// Runs `model` without gradients over every example, `batchSize` examples at a time.
    public static func compute(model: GPT, examples: PreferenceExamples, batchSize: Int = 16) -> ReferenceLogProbs {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var first: [Float] = [], second: [Float] = []
        Runtime.withNoGrad {
            for start in stride(from: 0, to: examples.count, by: Swift.max(batchSize, 1)) {
                let idx = Array(start..<Swift.min(start + batchSize, examples.count))
                let lp = model.sequenceLogProbs(examples.batch(idx)).scalars
                first += lp[..<idx.count]; second += lp[idx.count...]
            }
        }
        return ReferenceLogProbs(first: first, second: second, dataFingerprint: examples.fingerprint,
                                 modelFingerprint: model.weightsFingerprint)
    }

    /// The log-probs of examples `indices` as tensors [B] each.
    public func select(_ indices: [Int]) -> (first: Tensor, second: Tensor) {
        (Tensor(indices.map { first[$0] }), Tensor(indices.map { second[$0] }))
    }

    /// Writes the cache atomically.
    public func save(to url: URL) throws {
        try SafeTensors.writeTensors(["first": Tensor(first), "second": Tensor(second)], metadata: [
            "format": Self.format, "examples": String(first.count),
            "data_fingerprint": Self.hex(dataFingerprint), "model_fingerprint": Self.hex(modelFingerprint),
        ], to: url)
    }

    /// Reads a cache written by `save`.
    /// - Throws: `DataError` from the safetensors reader, or `ReferenceCacheError`
    ///   naming the file for a wrong format or inconsistent contents.
    public static func load(from url: URL) throws -> ReferenceLogProbs {
        let file = url.lastPathComponent
        let (tensors, meta) = try SafeTensors.readTensors(url)
        guard meta["format"] == format else {
            throw ReferenceCacheError(file: file, problem: "metadata format is \(meta["format"] ?? "missing"), expected \(format)")
        }
        guard let a = tensors["first"], let b = tensors["second"], a.rank == 1, a.shape == b.shape else {
            throw ReferenceCacheError(file: file, problem: "needs 1-D tensors \"first\" and \"second\" of one length")
        }
        guard let n = meta["examples"].flatMap(Int.init), n == a.count else {
            throw ReferenceCacheError(file: file, problem: "metadata examples = \(meta["examples"] ?? "missing") but the tensors hold \(a.count)")
        }
        guard let d = meta["data_fingerprint"].flatMap({ UInt64($0, radix: 16) }),
              let m = meta["model_fingerprint"].flatMap({ UInt64($0, radix: 16) }) else {
            throw ReferenceCacheError(file: file, problem: "metadata needs hex data_fingerprint and model_fingerprint")
        }
        return ReferenceLogProbs(first: a.scalars, second: b.scalars, dataFingerprint: d, modelFingerprint: m)
    }

    /// Checks that the cache belongs to `examples` (and, if given, to the reference weights).
    /// - Throws: `ReferenceCacheError` naming `file` and what differs.
    public func validate(for examples: PreferenceExamples, modelFingerprint model: UInt64? = nil, file: String) throws {
        guard first.count == examples.count else {
            throw ReferenceCacheError(file: file, problem: "holds \(first.count) examples, the data has \(examples.count)")
        }
        guard dataFingerprint == examples.fingerprint else {
            throw ReferenceCacheError(file: file, problem: "was computed on other data or truncation (fingerprint \(Self.hex(dataFingerprint)), data \(Self.hex(examples.fingerprint)))")
        }
        if let model, model != modelFingerprint {
            throw ReferenceCacheError(file: file, problem: "was computed with another reference model (fingerprint \(Self.hex(modelFingerprint)), model \(Self.hex(model)))")
        }
        if let bad = (first + second).firstIndex(where: { !$0.isFinite }) {
            throw ReferenceCacheError(file: file, problem: "reference log-prob \(bad % first.count) is not finite")
        }
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// A reference-log-prob cache that cannot be used: names the file and why.
public struct ReferenceCacheError: Error, CustomStringConvertible, Sendable {
    /// The cache file.
    public let file: String
    /// What is wrong.
    public let problem: String
    /// "file: problem".
    public var description: String { "\(file): \(problem)" }
}

extension Module {
    /// A 64-bit FNV-1a hash of every parameter's name and values (bit patterns):
    /// identifies the weights a reference cache was computed with.
    public var weightsFingerprint: UInt64 {
        var h = FNV1a()
        for (name, p) in namedParameters() {
            h.add(name)
            p.value.withUnsafeBufferPointer { h.add($0) }
        }
        return h.value
    }
}

extension GPT {
    /// A copy of these weights (own buffers) in a new model whose parameters
    /// are all frozen (no gradients), in evaluation mode: a reference model.
    /// `GlobalRandom` is left as it was.
    public func frozenCopy() -> GPT {
        let saved = GlobalRandom.generator
        let copy = GPT(config)
        GlobalRandom.generator = saved
        try! copy.update(parameters: stateDict().mapValues { $0.copy() })   // same config: names and shapes match
        copy.freeze()
        copy.eval()
        return copy
    }
}
