// `anneal dpo`: Direct preference optimisation and its variants.

import ArgumentParser

struct DPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dpo", abstract: "Direct preference optimisation and its variants. (not built yet)")

    func run() throws { throw ValidationError("anneal dpo is not built yet") }
}
