// `anneal sample`: Generate text from a GPT checkpoint.

import ArgumentParser

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Generate text from a GPT checkpoint. (not built yet)")

    func run() throws { throw ValidationError("anneal sample is not built yet") }
}
