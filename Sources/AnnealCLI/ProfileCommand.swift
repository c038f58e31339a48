// `anneal profile`: Profile one training step: per-op table, MFU, Chrome trace.

import ArgumentParser

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "profile", abstract: "Profile one training step: per-op table, MFU, Chrome trace. (not built yet)")

    func run() throws { throw ValidationError("anneal profile is not built yet") }
}
