// `anneal finetune`: Transfer-learning demos.

import ArgumentParser

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune", abstract: "Transfer-learning demos. (not built yet)")

    func run() throws { throw ValidationError("anneal finetune is not built yet") }
}
