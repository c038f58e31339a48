// `anneal cost`: Estimate the time, energy, CO2 and cost of a training run.

import ArgumentParser

struct CostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cost", abstract: "Estimate the time, energy, CO2 and cost of a training run. (not built yet)")

    func run() throws { throw ValidationError("anneal cost is not built yet") }
}
