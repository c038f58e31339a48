// Tensor values, copy-on-write, views, broadcasting, seeded randomness,
// autograd bookkeeping and shape errors.

import Anneal
import Testing
import _TestSupport

@Suite struct TensorTests {
    @Test func creationAndValues() {
        #expect(Tensor.zeros([2, 3]).scalars == [0, 0, 0, 0, 0, 0])
        #expect(Tensor.full([2], 7).scalars == [7, 7])
        #expect(Tensor.arange(4, start: 1, step: 0.5).scalars == [1, 1.5, 2, 2.5])
        #expect(Tensor(3).shape == [] && Tensor(3).item() == 3)
    }

    @Test func copyOnWriteAndViews() {
        let a = Tensor(shape: [2, 2], [1, 2, 3, 4])
        var b = a
        #expect(b.sharesStorage(with: a))
        b.withUnsafeMutableBufferPointer { $0[0] = 9 }
        #expect(a.scalars == [1, 2, 3, 4] && b.scalars == [9, 2, 3, 4])
        let v = a.reshaped([4])
        #expect(v.sharesStorage(with: a) && v.shape == [4])
        #expect(a.transposed().scalars == [1, 3, 2, 4])
    }

    @Test func seededRandomIsReproducibleAndBackendIndependent() {
        let draws = BackendCase.all.map { b in b.run { Tensor.randn([100], seed: 123).scalars } }
        for d in draws { #expect(d == draws[0]) }
        #expect(Tensor.randn([100], seed: 124).scalars != draws[0])
        let u = Tensor.uniform([1000], seed: 1).scalars
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let n = Tensor.randn([20000], seed: 9)
        let mean = n.mean().item(), variance = n.squared().mean().item() - mean * mean
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }

    @Test func broadcastingShapes() {
        #expect(Shape.broadcast([3, 1, 5], [4, 1]) == [3, 4, 5])
        #expect(Shape.broadcast([2, 3], [4]) == nil)
        let s = Tensor(shape: [2, 1], [1, 2]) + Tensor([10, 20, 30])
        #expect(s.shape == [2, 3] && s.scalars == [11, 21, 31, 12, 22, 32])
    }

    @Test func gradientsAccumulateAndGraphIsFreed() {
        let w = Tensor([1, 2, 3]).requiringGrad()
        (w * w).sum().backward()
        #expect(w.grad?.scalars == [2, 4, 6])
        (w * 3).sum().backward()
        #expect(w.grad?.scalars == [5, 7, 9])
        let y = (w * w).sum()
        Runtime.withNoGrad { #expect(!(w * w).requiresGrad) }
        #expect(y.requiresGrad)
        #expect(!(Tensor([1, 2]) * 2).requiresGrad)
        let x = Tensor([1, 2, 3])
        let z = (x * w).sum()
        z.backward()
        #expect(x.grad == nil)
    }

    @Test func inputsWithoutGradientCostNoGemm() {
        let counter = CountingBackend(Runtime.reference)
        let x = Tensor.randn([4, 3], seed: 1)
        let w = Tensor.randn([5, 3], seed: 2).requiringGrad()
        Runtime.withBackend(counter.backend) {
            let y = Tensor.linear(x, weight: w).sum()
            #expect(counter.gemmCalls == 1)
            y.backward()
        }
        // Backward computes dW only: dX would be a second GEMM.
        #expect(counter.gemmCalls == 2)
        let frozen = Tensor.randn([5, 3], seed: 2)
        let xg = x.requiringGrad()
        Runtime.withBackend(counter.backend) { Tensor.linear(xg, weight: frozen).sum().backward() }
        #expect(counter.gemmCalls == 4)
    }

    @Test func argmaxAndComparisons() {
        let x = Tensor(shape: [2, 3], [1, 5, 5, 7, 0, 2])
        #expect(x.argmax(axis: -1) == [1, 0])
        #expect(x.argmax(axis: 0) == [1, 0, 0])
        #expect((x .> Tensor(2)).scalars == [0, 1, 1, 1, 0, 0])
        #expect(x.clamped(min: 1, max: 5).scalars == [1, 5, 5, 5, 1, 2])
    }

    @Test func shapeErrorsNameTheShapes() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }.map { result in
            let err = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(err.contains("[2, 3]") && err.contains("[4]"))
        }
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
        }.map { result in
            let err = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(err.contains("[2, 3]") && err.contains("[4, 5]"))
        }
    }
}
