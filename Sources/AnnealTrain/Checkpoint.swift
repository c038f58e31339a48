// Training checkpoints: model parameters, optimizer state, step, RNG state
// and data position in one safetensors file, written atomically (temp file,
// fsync, rename), so a run killed at any instant resumes bit-for-bit.

import Anneal
import AnnealData
import AnnealNN
import AnnealOptim
import Foundation

/// Where a run stands: enough to continue exactly where it stopped.
public struct TrainingState: Codable, Sendable, Equatable {
    /// Optimizer steps taken so far.
    public var step: Int = 0
    /// Current epoch (0-based) and the next batch within it.
    public var epoch: Int = 0
    public var batchInEpoch: Int = 0
    /// State of `GlobalRandom` (dropout, sampling).
    public var random: [UInt64] = []
    /// Best validation metric so far, for the summary.
    public var lastValidation: Double?

    public init() {}
}

/// Reading and writing `checkpoint.safetensors`.
///
/// Tensors are stored as `model.<name>` and `optim.<slot>`; the metadata holds
/// `anneal.state` (TrainingState JSON), `anneal.config` (the run's
/// configuration JSON) and `anneal.optimizer_steps`.
public enum Checkpoint {
    public static let fileName = "checkpoint.safetensors"

    /// Writes the checkpoint into `directory` atomically. `beforeRename` runs
    /// between the fsynced temp file and the rename (tests use it to stop a run mid-save).
    public static func save(to directory: URL, model: Module, optimizer: Optimizer, state: TrainingState,
                            config: Data, beforeRename: ((URL) throws -> Void)? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var entries: [(String, SafeTensorsEntry)] = []
        for (name, t) in model.stateDict() { entries.append(("model.\(name)", SafeTensorsEntry(shape: t.shape, values: t.scalars))) }
        for (name, t) in optimizer.stateDict() { entries.append(("optim.\(name)", SafeTensorsEntry(shape: t.shape, values: t.scalars))) }
        let metadata = [
            "anneal.state": String(decoding: try sortedJSON(state), as: UTF8.self),
            "anneal.config": String(decoding: config, as: UTF8.self),
            "anneal.optimizer_steps": String(optimizer.stepCount),
        ]
        let data = try SafeTensors.encode(entries, metadata: metadata)
        try AtomicFile.write(data, to: directory.appendingPathComponent(fileName), beforeRename: beforeRename ?? { _ in })
    }

    /// Loads a checkpoint into `model` (strict: every mismatched name is
    /// listed) and `optimizer`; returns the state and the saved config.
    public static func load(from directory: URL, model: Module, optimizer: Optimizer?) throws -> (TrainingState, Data) {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(url: url, message: "no checkpoint here (expected \(fileName) in \(directory.path))")
        }
        let (tensors, metadata) = try SafeTensors.readTensors(url)
        var params: [String: Tensor] = [:], slots: [String: Tensor] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model.") { params[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("optim.") { slots[String(k.dropFirst(6))] = v }
        }
        do { try model.update(parameters: params) } catch {
            throw DataError(url: url, message: "checkpoint does not fit this model: \(error)")
        }
        guard let stateJSON = metadata["anneal.state"],
              let state = try? JSONDecoder().decode(TrainingState.self, from: Data(stateJSON.utf8)) else {
            throw DataError(url: url, message: "metadata has no valid anneal.state")
        }
        if let optimizer {
            try optimizer.loadStateDict(slots)
            optimizer.stepCount = Int(metadata["anneal.optimizer_steps"] ?? "") ?? state.step
        }
        return (state, Data((metadata["anneal.config"] ?? "{}").utf8))
    }

    /// Reads only the metadata config of a checkpoint (to rebuild its model).
    public static func config(in directory: URL) throws -> Data {
        let url = directory.appendingPathComponent(fileName)
        let file = try SafeTensorsFile(contentsOf: url)
        return Data((file.metadata["anneal.config"] ?? "{}").utf8)
    }
}

/// JSON with sorted keys, so equal values always give equal bytes.
func sortedJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return try encoder.encode(value)
}
