// `anneal labels`: Label quality: agreement, aggregation, issues, dedup, prune.

import ArgumentParser

struct LabelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "labels", abstract: "Label quality: agreement, aggregation, issues, dedup, prune. (not built yet)")

    func run() throws { throw ValidationError("anneal labels is not built yet") }
}
