// The bandit experiment of the IPO paper (Azar et al. 2023, "A General
// Theoretical Paradigm to Understand Learning from Human Preferences", Sec. 5):
// a softmax policy over a few actions trained on preference pairs with DPO or
// IPO (the `PreferenceLoss` of this module), many seeds in one tensor.

import Anneal
import AnnealNN
import AnnealOptim
import Foundation

/// One preference: action `winner` is preferred to action `loser`.
public struct BanditPair: Sendable, Equatable {
    /// The preferred action's index.
    public var winner: Int
    /// The dispreferred action's index.
    public var loser: Int

    /// A pair winner ≻ loser.
    public init(_ winner: Int, _ loser: Int) { self.winner = winner; self.loser = loser }
}

/// A preference data set over K actions, from which training batches are drawn
/// uniformly with replacement.
public struct BanditDataset: Sendable, Equatable {
    /// Its name in tables ("D1").
    public var name: String
    /// K, the number of actions.
    public var actionCount: Int
    /// The pairs.
    public var pairs: [BanditPair]

    /// A data set; every action index must be in 0..<K.
    public init(name: String, actionCount: Int, pairs: [BanditPair]) {
        require(actionCount >= 2 && !pairs.isEmpty, "a bandit data set needs at least 2 actions and 1 pair")
        require(pairs.allSatisfy { (0..<actionCount).contains($0.winner) && (0..<actionCount).contains($0.loser) && $0.winner != $0.loser },
                "bandit pairs must name two different actions in 0..<\(actionCount)")
        self.name = name; self.actionCount = actionCount; self.pairs = pairs
    }

    /// D1 = {(a, b), (b, c), (a, c)}: a total order a ≻ b ≻ c over 3 actions.
    public static let d1 = BanditDataset(name: "D1", actionCount: 3, pairs: [BanditPair(0, 1), BanditPair(1, 2), BanditPair(0, 2)])
    /// D3 = {(a, b), (b, a)}: a and b each preferred once; c never compared.
    public static let d3 = BanditDataset(name: "D3", actionCount: 3, pairs: [BanditPair(0, 1), BanditPair(1, 0)])
    /// Two actions with the deterministic preference y₁ ≻ y₂: {(y₁, y₂)}.
    public static let twoActions = BanditDataset(name: "y1>y2", actionCount: 2, pairs: [BanditPair(0, 1)])
}

/// The two losses the paper compares.
public enum BanditMethod: String, CaseIterable, Sendable {
    /// DPO: −log σ(τ·h) (`PairwiseLossType.sigmoid`).
    case dpo = "DPO"
    /// IPO: (h − 1/(2τ))² (`PairwiseLossType.ipo`).
    case ipo = "IPO"

    /// The `PreferenceLoss` type that implements it.
    public var lossType: PairwiseLossType { self == .dpo ? .sigmoid : .ipo }
}

/// The optimisation set-up (defaults: the paper's).
public struct BanditSettings: Sendable, Equatable {
    /// Adam steps (18,000).
    public var steps: Int
    /// Pairs drawn per step, uniformly with replacement (9).
    public var batchSize: Int
    /// Adam's learning rate (0.01; β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
    public var learningRate: Float
    /// Independent runs (10), seeds firstSeed ..< firstSeed + seeds: each seed draws its own batches.
    public var seeds: Int
    /// The first seed (0).
    public var firstSeed: UInt64

    /// Settings; the defaults are the paper's.
    public init(steps: Int = 18_000, batchSize: Int = 9, learningRate: Float = 0.01, seeds: Int = 10, firstSeed: UInt64 = 0) {
        require(steps >= 0 && batchSize > 0 && seeds > 0, "bandit settings: steps ≥ 0, batchSize > 0 and seeds > 0")
        self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate; self.seeds = seeds
        self.firstSeed = firstSeed
    }

    /// The paper's τ values: 0.05, 0.1, 0.5, 1, 2.
    public static let paperTaus: [Float] = [0.05, 0.1, 0.5, 1, 2]
}

/// Final policies of one (data set, method, τ) cell over all seeds.
public struct BanditResult: Sendable {
    /// The data set's name.
    public var dataset: String
    /// DPO or IPO.
    public var method: BanditMethod
    /// τ (the β of `PreferenceLoss`).
    public var tau: Float
    /// π after training, one row of K probabilities per seed.
    public var policies: [[Float]]

    /// A cell's result.
    public init(dataset: String, method: BanditMethod, tau: Float, policies: [[Float]]) {
        self.dataset = dataset; self.method = method; self.tau = tau; self.policies = policies
    }

    /// Mean of π(k) over seeds, [K].
    public var mean: [Float] { columns.map { $0.reduce(0, +) / Float($0.count) } }
    /// Sample standard deviation (n − 1 denominator; 0 for one seed) of π(k) over seeds, [K].
    public var standardDeviation: [Float] {
        zip(columns, mean).map { col, m in
            col.count < 2 ? 0 : (col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Float(col.count - 1)).squareRoot()
        }
    }

    var columns: [[Float]] { (0..<(policies.first?.count ?? 0)).map { k in policies.map { $0[k] } } }
}

/// Trains softmax policies π = softmax(θ), θ ∈ ℝᴷ starting at 0 (the uniform
/// reference), on a bandit preference data set.
///
/// Seed s draws its batches from `RandomGenerator(seed: firstSeed + s)` (B
/// pair indices by `nextInt` per step). All seeds
/// train at once: θ is one [S, K] parameter, the batch is the [S·B] pairs of
/// every seed, log π = log softmax(θ) row-wise gathered at the winners and the
/// losers, the reference log-probs are log(1/K), and the loss is
/// S · `PreferenceLoss([.sigmoid or .ipo], beta: τ)` (its mean over S·B pairs
/// times S = Σ_s mean over seed s's B pairs). Each seed's row of θ receives
/// only its own gradient and Adam updates every element on its own, so the
/// rows evolve as S separate runs would (up to the rounding of that scaling).
///
/// With uniform reference, h(y_w, y_l) = log π(y_w) − log π(y_l) = θ_w − θ_l;
/// DPO minimises −log σ(τh), IPO (h − 1/(2τ))².
public enum BanditExperiment {
    /// The final policies [S][K] of `settings.seeds` runs.
    /// `observe`, if given, sees (step, θ [S, K]) after every step.
    public static func train(_ dataset: BanditDataset, method: BanditMethod, tau: Float, settings: BanditSettings = BanditSettings(),
                             observe: ((Int, Tensor) -> Void)? = nil) -> [[Float]] {
        require(tau > 0, "τ must be positive, got \(tau)")
        let s = settings.seeds, k = dataset.actionCount, b = settings.batchSize
        let theta = Parameter(Tensor.zeros([s, k]))
        let optimizer = Adam(parameters: [("theta", theta)], learningRate: settings.learningRate)
        let loss = PreferenceLoss([method.lossType], beta: tau)
        let reference = Tensor.full([s * b], -Foundation.log(Float(k)))   // log π_ref = log(1/K)
        var generators = (0..<s).map { RandomGenerator(seed: settings.firstSeed + UInt64($0)) }
        var winners = [Int](repeating: 0, count: s * b), losers = winners   // flat indices into θ [S·K]
        for step in stride(from: 1, through: settings.steps, by: 1) {
            for seed in 0..<s {
                for i in 0..<b {
                    let pair = dataset.pairs[generators[seed].nextInt(dataset.pairs.count)]
                    winners[seed * b + i] = seed * k + pair.winner
                    losers[seed * b + i] = seed * k + pair.loser
                }
            }
            optimizer.zeroGrad()
            let logp = theta.value.logSoftmax(axis: 1).reshaped([s * k])
            let lp = PairLogProbs(chosen: logp.gather(axis: 0, indices: winners, indexShape: [s * b]),
                                  rejected: logp.gather(axis: 0, indices: losers, indexShape: [s * b]),
                                  referenceChosen: reference, referenceRejected: reference)
            (loss(lp).loss * Float(s)).backward()
            optimizer.step()
            observe?(step, theta.value)
        }
        return policies(theta.value)
    }

    /// softmax(θ) row-wise, [S][K].
    public static func policies(_ theta: Tensor) -> [[Float]] {
        let k = theta.shape[1]
        let p = Runtime.withNoGrad { theta.detached().softmax(axis: 1) }.scalars
        return (0..<theta.shape[0]).map { Array(p[($0 * k)..<(($0 + 1) * k)]) }
    }

    /// Every (data set, method, τ) cell, in that nesting order.
    public static func run(datasets: [BanditDataset] = [.d1, .d3], methods: [BanditMethod] = BanditMethod.allCases,
                           taus: [Float] = BanditSettings.paperTaus, settings: BanditSettings = BanditSettings()) -> [BanditResult] {
        datasets.flatMap { d in
            methods.flatMap { m in
                taus.map { t in BanditResult(dataset: d.name, method: m, tau: t, policies: train(d, method: m, tau: t, settings: settings)) }
            }
        }
    }

    /// IPO's optimum for two actions with the deterministic preference y₁ ≻ y₂
    /// and a uniform reference: h = θ₁ − θ₂ = 1/(2τ), so π(y₁) = σ(1/(2τ)).
    /// (DPO's loss −log σ(τh) has no minimiser: π(y₁) → 1.)
    public static func ipoTwoActionOptimum(tau: Float) -> Float { 1 / (1 + Foundation.exp(-1 / (2 * tau))) }

    /// IPO's population optimum on `dataset` (pairs drawn uniformly):
    /// θ* minimises Σ_pairs (θ_w − θ_l − 1/(2τ))², i.e. solves L·θ = g with L
    /// the comparison graph's Laplacian (L_kk = comparisons of k, L_kj = −pairs
    /// linking k and j) and g_k = (wins_k − losses_k)/(2τ); of the solutions, the
    /// one with least norm (θ starts at 0 and moves only where data reach).
    /// Returns π* = softmax(θ*), [K]. D1: θ* = (1, 0, −1)/(3τ); D3: uniform.
    public static func ipoOptimum(_ dataset: BanditDataset, tau: Float) -> [Float] {
        let k = dataset.actionCount, h = 1 / (2 * Double(tau))
        var a = [Double](repeating: 0, count: k * k), g = [Double](repeating: 0, count: k)   // L [K, K], g [K]
        for p in dataset.pairs {
            a[p.winner * k + p.winner] += 1; a[p.loser * k + p.loser] += 1
            a[p.winner * k + p.loser] -= 1; a[p.loser * k + p.winner] -= 1
            g[p.winner] += h; g[p.loser] -= h
        }
        // (L + δI)θ = g with a tiny δ tends to the least-norm solution (g ⟂ null space of L).
        for i in 0..<k { a[i * k + i] += 1e-9 }
        let theta = solveLinear(a, g, n: k)
        let m = theta.max()!
        let w = theta.map { Foundation.exp($0 - m) }
        let z = w.reduce(0, +)
        return w.map { Float($0 / z) }
    }

    /// Gaussian elimination with partial pivoting on a small dense system A·x = b (A [n, n]).
    static func solveLinear(_ matrix: [Double], _ rhs: [Double], n: Int) -> [Double] {
        var a = matrix, b = rhs
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
            if pivot != col {
                for j in 0..<n { a.swapAt(col * n + j, pivot * n + j) }
                b.swapAt(col, pivot)
            }
            for row in (col + 1)..<n {
                let f = a[row * n + col] / a[col * n + col]
                for j in col..<n { a[row * n + j] -= f * a[col * n + j] }
                b[row] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = b[row]
            for j in (row + 1)..<n { s -= a[row * n + j] * x[j] }
            x[row] = s / a[row * n + row]
        }
        return x
    }

    /// A Markdown table: | data set | method | τ | π(a) | π(b) | … | with
    /// mean ± sd over seeds.
    public static func markdown(_ results: [BanditResult], actionNames: [String] = ["a", "b", "c", "d", "e"]) -> String {
        let k = results.map { $0.policies.first?.count ?? 0 }.max() ?? 0
        let names = (0..<k).map { $0 < actionNames.count ? actionNames[$0] : "\($0)" }
        var lines = ["| data set | method | τ | " + names.map { "π(\($0))" }.joined(separator: " | ") + " |",
                     "|---|---|---:|" + String(repeating: "---:|", count: k)]
        for r in results {
            let cells = zip(r.mean, r.standardDeviation).map { String(format: "%.4f ± %.4f", $0, $1) }
            lines.append("| \(r.dataset) | \(r.method.rawValue) | \(formatTau(r.tau)) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Markdown table of `ipoOptimum` for each data set and τ: | data set | τ | π*(a) | … |.
    public static func optimumMarkdown(_ datasets: [BanditDataset], taus: [Float], actionNames: [String] = ["a", "b", "c", "d", "e"]) -> String {
        let k = datasets.map(\.actionCount).max() ?? 0
        let names = (0..<k).map { $0 < actionNames.count ? actionNames[$0] : "\($0)" }
        var lines = ["| data set | τ | " + names.map { "π*(\($0))" }.joined(separator: " | ") + " |",
                     "|---|---:|" + String(repeating: "---:|", count: k)]
        for d in datasets {
            for t in taus {
                let p = ipoOptimum(d, tau: t).map { String(format: "%.4f", $0) }
                lines.append("| \(d.name) | \(formatTau(t)) | " + p.joined(separator: " | ") + " |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func formatTau(_ t: Float) -> String {
        var s = String(format: "%.3f", t)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
