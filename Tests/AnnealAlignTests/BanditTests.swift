// The IPO paper's bandit experiment on reduced runs: DPO goes greedy on D1 at
// every τ, IPO stays regularised (toward uniform as τ grows, at its
// least-squares optimum), the two-action closed form, and seed batching.

import Anneal
import AnnealAlign
import Foundation
import Testing
import _TestSupport

@Suite struct BanditTests {
    /// IPO converges within a few thousand steps; DPO's π(a) at τ = 2 needs
    /// ~8k steps to pass 0.99 (its gradient τ·σ(−τh) vanishes fast while
    /// Adam's second moment remembers the earlier, larger gradients).
    static let reduced = BanditSettings(steps: 3000, seeds: 3)
    static let reducedDPO = BanditSettings(steps: 10_000, seeds: 2)

    @Test(arguments: BackendCase.all)
    func dpoIsGreedyOnD1AtEveryTau(_ b: BackendCase) {
        b.run {
            for tau in BanditSettings.paperTaus {
                let result = BanditResult(dataset: "D1", method: .dpo, tau: tau,
                                          policies: BanditExperiment.train(.d1, method: .dpo, tau: tau, settings: Self.reducedDPO))
                #expect(result.policies.allSatisfy { $0[0] > 0.99 }, "DPO τ = \(tau): π = \(result.policies)")
                #expect(result.mean[1] > result.mean[2], "DPO τ = \(tau): the order a ≻ b ≻ c is kept below a")
            }
        }
    }

    @Test(arguments: BackendCase.all)
    func ipoOnD1FallsTowardUniformAsTauGrows(_ b: BackendCase) {
        b.run {
            let means = BanditSettings.paperTaus.map { tau in
                BanditResult(dataset: "D1", method: .ipo, tau: tau,
                             policies: BanditExperiment.train(.d1, method: .ipo, tau: tau, settings: Self.reduced)).mean
            }
            let pa = means.map { $0[0] }
            #expect(zip(pa, pa.dropFirst()).allSatisfy { $0 > $1 + 0.02 }, "IPO π(a) over τ \(BanditSettings.paperTaus): \(pa)")
            #expect(pa.last! < 0.42 && pa.last! > 1.0 / 3, "IPO τ = 2 stays near uniform: π(a) = \(pa.last!)")
            #expect(pa[2] < 0.99, "IPO τ = 0.5 is not greedy: π(a) = \(pa[2])")
            for (tau, mean) in zip(BanditSettings.paperTaus, means) {
                // Each π(k) ordered a > b > c, and at the least-squares optimum θ* = (1, 0, −1)/(3τ).
                #expect(mean[0] > mean[1] && mean[1] > mean[2], "IPO τ = \(tau): \(mean)")
                let optimum = BanditExperiment.ipoOptimum(.d1, tau: tau)
                #expect(zip(mean, optimum).allSatisfy { abs($0 - $1) < 0.02 }, "IPO τ = \(tau): \(mean) vs optimum \(optimum)")
            }
        }
    }

    @Test func ipoOptimumOfD1IsTheLeastSquaresSolution() {
        for tau: Float in [0.1, 0.5, 2] {
            let d = 1 / (3 * Double(tau))
            let w = [exp(d), 1, exp(-d)], z = w.reduce(0, +)
            let got = BanditExperiment.ipoOptimum(.d1, tau: tau)
            #expect(zip(got, w).allSatisfy { abs(Double($0) - $1 / z) < 1e-5 }, "τ = \(tau): \(got)")
        }
        #expect(BanditExperiment.ipoOptimum(.d3, tau: 0.1).allSatisfy { abs($0 - 1.0 / 3) < 1e-5 })
    }

    /// y₁ ≻ y₂ deterministically, uniform reference: IPO converges to σ(1/(2τ)), DPO keeps climbing toward 1.
    @Test(arguments: BackendCase.all)
    func twoActionClosedForm(_ b: BackendCase) {
        b.run {
            let settings = BanditSettings(steps: 3000, seeds: 1), dpoSettings = BanditSettings(steps: 10_000, seeds: 1)
            for tau: Float in [0.25, 0.5, 1, 2] {
                let closedForm = 1 / (1 + exp(-1 / (2 * tau)))
                #expect(abs(BanditExperiment.ipoTwoActionOptimum(tau: tau) - closedForm) < 1e-6)
                #expect(abs(BanditExperiment.ipoOptimum(.twoActions, tau: tau)[0] - closedForm) < 1e-5)
                let ipo = BanditExperiment.train(.twoActions, method: .ipo, tau: tau, settings: settings)[0][0]
                #expect(abs(ipo - closedForm) < 2e-3, "IPO τ = \(tau): π(y₁) = \(ipo), σ(1/(2τ)) = \(closedForm)")

                var trajectory: [Float] = []
                let dpo = BanditExperiment.train(.twoActions, method: .dpo, tau: tau, settings: dpoSettings) { step, theta in
                    if step % 1000 == 0 { trajectory.append(BanditExperiment.policies(theta)[0][0]) }
                }[0][0]
                #expect(dpo > 0.99 && dpo > closedForm, "DPO τ = \(tau): π(y₁) = \(dpo)")
                #expect(zip(trajectory, trajectory.dropFirst()).allSatisfy { $0 <= $1 }, "DPO τ = \(tau) rises monotonically: \(trajectory)")
            }
        }
    }

    /// D3 never compares c and its two pairs pull θ_a − θ_b in opposite
    /// directions: θ_c stays 0 and θ_a + θ_b stays 0, so π(a)·π(b) = π(c)².
    @Test func d3LeavesTheUnseenActionAlone() {
        for method in BanditMethod.allCases {
            let policies = BanditExperiment.train(.d3, method: method, tau: 0.1, settings: BanditSettings(steps: 1000, seeds: 3))
            for p in policies {
                #expect(abs(p[0] * p[1] - p[2] * p[2]) < 1e-5 && p[2] <= 1.0 / 3 + 1e-6, "\(method) D3: \(p)")
            }
        }
    }

    /// Training S seeds in one [S, K] tensor gives each seed's separate run.
    @Test func batchedSeedsMatchSeparateRuns() {
        for method in BanditMethod.allCases {
            let together = BanditExperiment.train(.d1, method: method, tau: 0.5, settings: BanditSettings(steps: 400, seeds: 3))
            for seed in 0..<3 {
                let alone = BanditExperiment.train(.d1, method: method, tau: 0.5,
                                                   settings: BanditSettings(steps: 400, seeds: 1, firstSeed: UInt64(seed)))[0]
                #expect(zip(together[seed], alone).allSatisfy { abs($0 - $1) < 1e-4 }, "\(method) seed \(seed): \(together[seed]) vs \(alone)")
            }
            // Different seeds draw different batches.
            #expect(together[0] != together[1])
        }
    }

    @Test func markdownTableListsEveryCell() {
        let results = BanditExperiment.run(datasets: [.d1], methods: [.dpo, .ipo], taus: [0.5, 1],
                                           settings: BanditSettings(steps: 10, seeds: 2))
        let table = BanditExperiment.markdown(results)
        let lines = table.split(separator: "\n")
        #expect(lines.count == 2 + 4)
        #expect(lines[0] == "| data set | method | τ | π(a) | π(b) | π(c) |")
        #expect(lines[2].hasPrefix("| D1 | DPO | 0.5 | ") && lines[5].hasPrefix("| D1 | IPO | 1 | "))
        #expect(lines[2].contains(" ± "))
    }
}
