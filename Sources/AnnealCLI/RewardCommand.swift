// `anneal reward`: Train a reward model on preference pairs.

import ArgumentParser

struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reward", abstract: "Train a reward model on preference pairs. (not built yet)")

    func run() throws { throw ValidationError("anneal reward is not built yet") }
}
