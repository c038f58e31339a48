// AnnealAlign module (see README).
import Anneal
import Foundation

/// Runs `anneal-preference-conformance/1` fixture files (filled in by the alignment work).
public enum PreferenceConformance {
    public static let format = "anneal-preference-conformance/1"
    public static func run(data: Data, file: String) throws -> [ConformanceResult] {
        throw ConformanceFileError(file: file, problem: "preference conformance is not implemented yet")
    }
}
