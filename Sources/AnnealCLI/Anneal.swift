import ArgumentParser

@main
struct AnnealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "anneal", abstract: "Train models on CPUs.")
}
