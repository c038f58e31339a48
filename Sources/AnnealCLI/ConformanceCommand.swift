// `anneal conformance FILE...`: checks fixture files against the engine.

import Anneal
import AnnealAlign
import AnnealData
import ArgumentParser
import Foundation

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check fixture files (anneal-conformance/1, …) case by case; exit 1 on any failure.")

    @Argument(help: "Fixture files.")
    var files: [String]

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        var passed = 0, failed = 0
        for file in files {
            let results: [ConformanceResult]
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: file))
                results = try Self.runner(for: data, file: file)
            } catch let e as ConformanceFileError {
                printError("error: \(e)")
                throw ExitCode(1)
            } catch {
                printError("error: \(file): \(error.localizedDescription)")
                throw ExitCode(1)
            }
            for r in results {
                if let f = r.failure { print("FAIL \(file): \(r.name): \(f)"); failed += 1 } else { passed += 1 }
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    /// Picks the runner by the file's "format" field.
    static func runner(for data: Data, file: String) throws -> [ConformanceResult] {
        let format = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["format"] as? String
        switch format {
        case PreferenceConformance.format: return try PreferenceConformance.run(data: data, file: file)
        case labelQualityConformanceFormat:
            return try runLabelQualityConformance(fileData: data, fileName: file).map { ConformanceResult(name: $0.name, failure: $0.failure) }
        default: return try OpsConformance.run(data: data, file: file)
        }
    }
}
