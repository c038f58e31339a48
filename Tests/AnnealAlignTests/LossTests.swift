// The log1mexp primitive (values, gradient check) and properties of the
// preference losses the fixture does not pin down: weighted sums, the
// chosen-NLL term, stability at extreme arguments, KTO's constant KL.

import Anneal
import AnnealAlign
import Foundation
import Testing
import _TestSupport

@Suite struct LossTests {
    @Test(arguments: BackendCase.all)
    func log1mexpMatchesDoublePrecision(_ b: BackendCase) {
        b.run {
            let xs: [Float] = [-1e-7, -1e-5, -0.01, -0.5, -0.69, -0.7, -2, -20, -90]
            let got = Tensor(xs).log1mexp().scalars
            for (x, g) in zip(xs, got) {
                let want = Foundation.log(-Foundation.expm1(Double(x)))
                #expect(abs(Double(g) - want) <= 1e-5 * abs(want) + 1e-7, "log1mexp(\(x)) = \(g), want \(want)")
            }
            // The naive log(1 − eˣ) loses everything at −1e-5 in float32; the stable form keeps −11.513.
            #expect(abs(Tensor([-1e-5]).log1mexp().item() + 11.5129) < 1e-3)
        }
    }

    @Test(arguments: BackendCase.all)
    func log1mexpGradient(_ b: BackendCase) {
        b.run {
            let x = Tensor([-0.05, -0.3, -0.69, -0.8, -1.5, -4])
            #expect(gradientCheck([x], eps: 1e-3) { $0[0].log1mexp() } == nil)
        }
    }

    func batch(seed: UInt64, n: Int = 6) -> PairLogProbs {
        let c = Tensor.randn([n], seed: seed) * 5 - 20, r = Tensor.randn([n], seed: seed + 1) * 5 - 20
        return PairLogProbs(chosen: c.requiringGrad(), rejected: r.requiringGrad(),
                            referenceChosen: Tensor.randn([n], seed: seed + 2) * 5 - 20,
                            referenceRejected: Tensor.randn([n], seed: seed + 3) * 5 - 20,
                            chosenLengths: Tensor((0..<n).map { Float(3 + $0) }), rejectedLengths: Tensor((0..<n).map { Float(9 - $0) }))
    }

    @Test func weightedSumIsTheWeightedMeanOfEachLoss() {
        let lp = batch(seed: 1)
        let parts: [PairwiseLossType] = [.sigmoid, .ipo, .apoDown]
        let weights: [Float] = [0.5, 2, 1]
        let combined = PreferenceLoss(parts, weights: weights, beta: 0.2)(lp).loss.item()
        let separate = zip(parts, weights).map { PreferenceLoss([$0.0], beta: 0.2)(lp).loss.item() * $0.1 }.reduce(0, +)
        #expect(abs(combined - separate) < 1e-5 * abs(separate))
    }

    @Test func chosenNLLTermIsPerTokenNegativeLogLikelihood() {
        let lp = batch(seed: 2)
        let base = PreferenceLoss([.simpo], beta: 2)(lp).loss.item()
        let withNLL = PreferenceLoss([.simpo], beta: 2, chosenNLLWeight: 0.5)(lp).loss.item()
        let nll = -lp.chosen.scalars.reduce(0, +) / lp.chosenLengths.scalars.reduce(0, +)
        #expect(abs(withNLL - (base + 0.5 * nll)) < 1e-4 * abs(withNLL))
        let orpo = PreferenceLoss.orpo(beta: 0.1)
        #expect(orpo.types == [.orpoOR] && orpo.chosenNLLWeight == 1 && orpo.isReferenceFree)
    }

    /// Every loss stays finite with finite gradients when its argument is ±400.
    @Test(arguments: PairwiseLossType.allCases)
    func extremeArgumentsStayFinite(_ type: PairwiseLossType) {
        for sign: Float in [1, -1] {
            let c = Tensor([sign * 4000 - 10, -3]).requiringGrad(), r = Tensor([-sign * 4000 - 10, -2]).requiringGrad()
            let lp = PairLogProbs(chosen: type == .orpoOR ? Tensor([-1e-5, -30]).requiringGrad() : c,
                                  rejected: type == .orpoOR ? Tensor([-30, -1e-5]).requiringGrad() : r,
                                  referenceChosen: Tensor([-10, -3]), referenceRejected: Tensor([-10, -2]),
                                  chosenLengths: Tensor([1, 1]), rejectedLengths: Tensor([1, 1]))
            let result = PreferenceLoss([type], beta: 0.1, labelSmoothing: 0.1)(lp)
            #expect(result.loss.item().isFinite, "\(type) loss \(result.loss.item())")
            result.loss.backward()
            let grads = (lp.chosen.grad?.scalars ?? []) + (lp.rejected.grad?.scalars ?? [])
            #expect(grads.count == 4 && grads.allSatisfy(\.isFinite), "\(type) gradients \(grads)")
        }
    }

    @Test func aotLossesComeInSortedOrderWithGradientsInInputOrder() {
        let lp = batch(seed: 3)
        let result = PreferenceLoss([.aot], beta: 0.1)(lp)
        result.loss.backward()
        // Each pair's gradient is its own: permuting the inputs permutes the gradients.
        let perm = [3, 0, 5, 1, 4, 2]
        func pick(_ t: Tensor?) -> Tensor { Tensor(perm.map { t!.scalars[$0] }) }
        let permuted = PairLogProbs(chosen: pick(lp.chosen).requiringGrad(), rejected: pick(lp.rejected).requiringGrad(),
                                    referenceChosen: pick(lp.referenceChosen), referenceRejected: pick(lp.referenceRejected))
        let again = PreferenceLoss([.aot], beta: 0.1)(permuted)
        again.loss.backward()
        #expect(allClose(again.losses[0], result.losses[0], rtol: 1e-6))
        #expect(allClose(permuted.chosen.grad!, pick(lp.chosen.grad), rtol: 1e-5, atol: 1e-7))
    }

    @Test func ktoKLIsAClampedConstant() {
        let logps = Tensor([-10, -12, -9]).requiringGrad()
        let klLogps = Tensor([-20, -21, -22]).requiringGrad()
        let kto = KTOLoss(beta: 0.5, desirableWeight: 1.5, undesirableWeight: 0.5)
        // mean(kl − ref_kl) = −1 < 0: clamped to 0.
        let r = kto(logps: logps, referenceLogps: Tensor([-10.5, -11, -9]), desirable: [true, false, true],
                    klLogps: klLogps, referenceKLLogps: Tensor([-19, -20, -21]))
        #expect(r.kl == 0)
        r.loss.backward()
        #expect(klLogps.grad == nil)
        // Hand-computed: w·(1 − σ(±β·r)), r = [0.5, −1, 0].
        func sig(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let want = [1.5 * (1 - sig(0.25)), 0.5 * (1 - sig(0.5)), 1.5 * (1 - sig(0))]
        for (g, w) in zip(r.losses.scalars, want) { #expect(abs(Double(g) - w) < 1e-6) }
    }

    @Test func bradleyTerryWithMarginAndCentering() {
        let c = Tensor([1, 0.5, -1]).requiringGrad(), rj = Tensor([0, 1, -3]).requiringGrad()
        let m = Tensor([0.5, 0, 1])
        let r = BradleyTerryLoss(centerRewardsCoefficient: 0.1)(chosen: c, rejected: rj, margin: m)
        func softplus(_ x: Double) -> Double { log1p(exp(x)) }
        let want = [softplus(-0.5), softplus(0.5), softplus(-1)].reduce(0, +) / 3 + 0.1 * (1 + 2.25 + 16) / 3
        #expect(abs(Double(r.loss.item()) - want) < 1e-6)
        #expect(abs(r.accuracy - 2.0 / 3) < 1e-6 && abs(r.margin - (1 - 0.5 + 2) / 3) < 1e-6)
    }
}
