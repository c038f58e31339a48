// The `anneal` command-line tool: one subcommand per file.

import Anneal
import ArgumentParser
import Foundation

@main
struct AnnealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anneal",
        abstract: "Train, fine-tune, align and profile models on CPUs.",
        subcommands: [TrainCommand.self, SampleCommand.self, ConformanceCommand.self, BenchCommand.self,
                      EmbedCommand.self, FinetuneCommand.self, RewardCommand.self, DPOCommand.self, BanditCommand.self, AlignDemoCommand.self,
                      ProfileCommand.self, PeakCommand.self, CostCommand.self, LabelsCommand.self])
}

/// Options every compute command takes.
struct BackendOptions: ParsableArguments {
    @Option(help: "Compute backend: openblas or reference (default: $ANNEAL_BACKEND, else openblas).")
    var backend: String?

    @Option(help: "Threads for kernels and OpenBLAS (default: $ANNEAL_THREADS, else all cores).")
    var threads: Int?

    /// Applies the options to the runtime; fails with a clear message for an unknown backend.
    func apply() throws {
        if let name = backend {
            guard let b = Runtime.backend(named: name) else {
                throw ValidationError("unknown or unavailable backend '\(name)' (available: \(Runtime.availableBackends.map(\.name).joined(separator: ", ")))")
            }
            Runtime.defaultBackend = b
        }
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
            Runtime.threads = threads
        }
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
