// `anneal bandit`: the IPO paper's bandit experiment (Azar et al. 2023, Sec. 5)
// — DPO vs IPO on 3-action preference data over several τ and seeds — printed
// as a Markdown table of the final action probabilities.

import Anneal
import AnnealAlign
import ArgumentParser
import Foundation

struct BanditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bandit",
        abstract: "Reproduce the IPO paper's bandit experiment (DPO vs IPO on 3 actions).",
        discussion: """
        Policy softmax(θ) over actions a, b, c, θ starting at 0 (= the uniform reference); each step draws \
        --batch-size pairs uniformly with replacement from the data set (seed s: RandomGenerator(seed: s)) and \
        takes one Adam step (β = 0.9, 0.999, ε = 1e-8) on the mean DPO loss −log σ(τh) or IPO loss \
        (h − 1/(2τ))², h = log π(w) − log π(l). Data sets: D1 = {(a,b),(b,c),(a,c)}, D3 = {(a,b),(b,a)}. \
        Prints mean ± sd (over seeds, n − 1) of the final π(a), π(b), π(c), and IPO's population optimum.
        """)

    @Option(help: "Adam steps per run.") var steps = 18_000
    @Option(help: "Seeds (independent runs) per cell.") var seeds = 10
    @Option(help: "Pairs per step.") var batchSize = 9
    @Option(help: "Adam learning rate.") var lr: Float = 0.01
    @Option(help: "τ values, comma-separated.") var taus = "0.05,0.1,0.5,1,2"
    @Option(help: "Data sets, comma-separated: D1, D3.") var datasets = "D1,D3"
    @Option(help: "Methods, comma-separated: DPO, IPO.") var methods = "DPO,IPO"
    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        guard steps > 0, seeds > 0, batchSize > 0, lr > 0 else {
            throw ValidationError("--steps, --seeds, --batch-size and --lr must be positive")
        }
        let tauList = try taus.split(separator: ",").map { text -> Float in
            guard let t = Float(text.trimmingCharacters(in: .whitespaces)), t > 0 else { throw ValidationError("--taus: '\(text)' is not a positive number") }
            return t
        }
        let known: [String: BanditDataset] = ["D1": .d1, "D3": .d3]
        let dataList = try datasets.split(separator: ",").map { name -> BanditDataset in
            guard let d = known[name.trimmingCharacters(in: .whitespaces).uppercased()] else { throw ValidationError("--datasets: unknown '\(name)' (D1, D3)") }
            return d
        }
        let methodList = try methods.split(separator: ",").map { name -> BanditMethod in
            guard let m = BanditMethod(rawValue: name.trimmingCharacters(in: .whitespaces).uppercased()) else {
                throw ValidationError("--methods: unknown '\(name)' (DPO, IPO)")
            }
            return m
        }
        let settings = BanditSettings(steps: steps, batchSize: batchSize, learningRate: lr, seeds: seeds)
        print("bandit: \(steps) Adam steps (lr \(lr)), batch \(batchSize), \(seeds) seeds per cell, uniform reference, θ₀ = 0")
        let t0 = DispatchTime.now().uptimeNanoseconds
        let results = BanditExperiment.run(datasets: dataList, methods: methodList, taus: tauList, settings: settings)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        print("")
        print(BanditExperiment.markdown(results), terminator: "")
        print("\nIPO's population optimum (least-squares θ of Σ (h − 1/(2τ))² over the data set's pairs):\n")
        print(BanditExperiment.optimumMarkdown(dataList, taus: tauList), terminator: "")
        let runs = results.count * seeds
        print(String(format: "\n%d runs × %d steps in %.2f s (%.2f µs per run-step; seeds batched into one tensor per cell)",
                     runs, steps, seconds, seconds * 1e6 / Double(runs * steps)))
    }
}
