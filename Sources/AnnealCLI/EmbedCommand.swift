// `anneal embed`: Embed texts with MiniLM-L6; one JSON line per text.

import ArgumentParser

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "Embed texts with MiniLM-L6; one JSON line per text. (not built yet)")

    func run() throws { throw ValidationError("anneal embed is not built yet") }
}
