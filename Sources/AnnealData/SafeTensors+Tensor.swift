// Bridges safetensors files and Anneal tensors: state dicts in and out.

import Anneal
import Foundation

extension SafeTensors {
    /// Reads every tensor of a safetensors file as Float32 tensors (integer and
    /// half-precision dtypes are converted), plus the metadata.
    public static func readTensors(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let (entries, metadata) = try read(url)
        return (entries.mapValues { Tensor(shape: $0.shape, $0.values) }, metadata)
    }

    /// Writes tensors as F32 (sorted by name), atomically: temp file, fsync, rename.
    public static func writeTensors(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.mapValues { SafeTensorsEntry(shape: $0.shape, values: $0.scalars) }, metadata: metadata, to: url)
    }
}
