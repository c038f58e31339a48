// The shared worker pool: every part runs exactly once, also with several
// submitting threads at once and with nested regions; GEMMs split into bands
// across the pool agree with the naive oracle.

import Anneal
import Foundation
import Synchronization
import Testing
import _TestSupport

@Suite struct WorkerPoolTests {
    @Test func everyPartRunsOnce() {
        for parts in [1, 2, 3, 7] {
            var hits = [Int](repeating: 0, count: parts)
            hits.withUnsafeMutableBufferPointer { h in
                let p = UncheckedPointer(h.baseAddress!)
                Runtime.parallel(parts: parts) { p.value[$0] += 1 }
            }
            #expect(hits == [Int](repeating: 1, count: parts), "parts \(parts)")
        }
        Runtime.parallel(parts: 0) { _ in Issue.record("no part should run") }
    }

    @Test func concurrentAndNestedRegions() {
        let total = Atomic<Int>(0)
        // Four threads submit 200 regions each; every region nests another.
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<200 {
                Runtime.parallel(parts: 2) { _ in
                    Runtime.parallel(parts: 3) { _ in total.add(1, ordering: .relaxed) }
                }
            }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 200 * 2 * 3)
    }

    @Test func partsRunConcurrentlyWhenThePoolIsFree() {
        // Part 1 waits (bounded) for part 0 to start: only possible on two threads.
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else { return }
        let started = Atomic<Int>(0)
        var overlapped = false
        for _ in 0..<20 where !overlapped {
            started.store(0, ordering: .relaxed)
            let saw = Atomic<Bool>(false)
            Runtime.parallel(parts: 2) { p in
                started.add(1, ordering: .relaxed)
                let deadline = DispatchTime.now().uptimeNanoseconds + 50_000_000
                while started.load(ordering: .relaxed) < 2 && DispatchTime.now().uptimeNanoseconds < deadline {}
                if started.load(ordering: .relaxed) == 2 { saw.store(true, ordering: .relaxed) }
            }
            overlapped = saw.load(ordering: .relaxed)
        }
        #expect(overlapped, "two parts never ran at the same time")
    }

    @Test(arguments: BackendCase.all)
    func bandSplitGemmsMatchTheOracle(_ b: BackendCase) {
        let oracle = ReferenceBackend(threads: 1, gemm: .naive)
        // Large enough to be split into bands: tall (rows split) and wide (columns split), all transposes.
        for (m, n, k) in [(150, 40, 90), (40, 170, 80)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = Tensor.randn(ta ? [k, m] : [m, k], seed: 1), c = Tensor.randn(tb ? [n, k] : [k, n], seed: 2)
                let want = Runtime.withBackend(oracle) { Tensor.matmul(a, c, transposeA: ta, transposeB: tb) }
                let got = b.run { Tensor.matmul(a, c, transposeA: ta, transposeB: tb) }
                #expect(allClose(got, want, rtol: 1e-4, atol: 1e-4), "\(b) m \(m) n \(n) k \(k) tA \(ta) tB \(tb)")
            } }
        }
        // A batched product with a broadcast operand (stride 0) and bands inside each item.
        let x = Tensor.randn([2, 200, 130], seed: 3), w = Tensor.randn([130, 100], seed: 4)
        let want = Runtime.withBackend(oracle) { Tensor.matmul(x, w) }
        #expect(allClose(b.run { Tensor.matmul(x, w) }, want, rtol: 1e-4, atol: 1e-4), "\(b) batched")
    }
}

/// A pointer that parts of one region write through at disjoint offsets.
struct UncheckedPointer<T>: @unchecked Sendable {
    let value: UnsafeMutablePointer<T>
    init(_ value: UnsafeMutablePointer<T>) { self.value = value }
}
