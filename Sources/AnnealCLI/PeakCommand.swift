// `anneal peak`: Measure this machine's sgemm peak (cached).

import ArgumentParser

struct PeakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peak", abstract: "Measure this machine's sgemm peak (cached). (not built yet)")

    func run() throws { throw ValidationError("anneal peak is not built yet") }
}
