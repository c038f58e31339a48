// `anneal train`: Train a model (default: an MLP on the embedded digits set).

import ArgumentParser

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a model (default: an MLP on the embedded digits set). (not built yet)")

    func run() throws { throw ValidationError("anneal train is not built yet") }
}
