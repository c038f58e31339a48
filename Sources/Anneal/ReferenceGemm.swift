// ReferenceGemm.swift — Anneal's pure-Swift single-precision GEMM.
//
// `ReferenceGemm.tuned` computes C = alpha · op(A) · op(B) + beta · C on row-major
// matrices with a cache-blocked, packed algorithm in the Goto/BLIS style;
// `ReferenceGemm.naive` is the triple-loop oracle it is tested against.
//
// Single-thread loop nest (`serial`):
//
//     for jc in 0..<n step NC            — column block of B / C
//       for pc in 0..<k step KC          — depth block; pack op(B)[pc, jc] (KC×NC)
//         for ic in 0..<m step MC        — row block;   pack op(A)[ic, pc] (MC×KC)
//           for jr in 0..<NC step NR     — B micro-panel (KC×NR, stays in L1)
//             for ir in 0..<MC step MR   — A micro-panel (MR×KC, streamed from L2)
//               6×16 micro-kernel: C[ir, jr] (+)= alpha · Ã · B̃
//
// Blocking: MR×NR = 6×16, KC = 256, MC = 120, NC = 3072 (see the `ReferenceGemm`
// doc comment for the cache reasoning). Transposes are absorbed by the packing
// routines; edge tiles are zero-padded in the packed buffers and written back
// through a small scratch tile; beta is applied on the first KC block only, and
// beta == 0 never reads C.
//
// Multithreading (`threads ≥ 2`, m·n·k ≥ `parallelThreshold`): one
// `DispatchQueue.concurrentPerform` per column block whose workers take jobs
// dynamically — first the packing of op(B) (shared by everyone), then row chunks
// of C of decreasing size (`rowParallel`); short, wide problems are split into
// column slabs instead (`columnParallel`). Dynamic job taking matters on a shared
// machine: a worker that wakes late (tens of µs on a busy VM) just does less.
//
// Performance needs AVX2+FMA code generation: build with
// `-Xswiftc -target-cpu -Xswiftc haswell` (or newer). Without a target CPU the
// code is still correct but far slower, because fused multiply-add on SIMD
// vectors is lowered to library calls.

import Dispatch
import Foundation

/// Single-precision general matrix multiply for Anneal's reference backend.
///
/// All matrices are row-major. `op(A)` is m×k and `op(B)` is k×n. When `transA`
/// is true, A is stored k×m (`lda ≥ m`) and `op(A) = Aᵀ`; otherwise A is stored
/// m×k (`lda ≥ k`). Likewise for `transB` (`ldb ≥ k` when transposed, `ldb ≥ n`
/// otherwise). C is m×n with `ldc ≥ n`.
///
/// Blocking parameters of ``tuned(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:threads:)``:
/// - `MR × NR = 6 × 16`: the register tile. The micro-kernel keeps 12
///   `SIMD8<Float>` accumulators (6 rows × 2 vectors), 2 vectors of B and one
///   broadcast of A live — 15 of the 16 AVX2 `ymm` registers — and issues 12 FMAs
///   per step of k against 2 vector loads and 6 broadcasts.
/// - `KC = 256`: depth of a packed block. One B micro-panel (KC×16 floats = 16 KiB)
///   plus one A micro-panel (6×KC = 6 KiB) fit in a 32–48 KiB L1 data cache.
/// - `MC = 120`: rows of packed A per block (MC×KC = 120 KiB), resident in L2.
/// - `NC = 3072`: columns of packed B per block (KC×NC = 3 MiB), resident in L3.
public enum ReferenceGemm {
    /// Rows of the register tile (micro-kernel height).
    static let mr = 6
    /// Columns of the register tile (micro-kernel width, two `SIMD8<Float>`).
    static let nr = 16
    /// Depth of a packed block of A and B.
    static let kcBlock = 256
    /// Rows of a packed block of A (a multiple of `mr`).
    static let mcBlock = 120
    /// Columns of a packed block of B (a multiple of `nr`).
    static let ncBlock = 3072
    /// Below this many multiply-adds (m·n·k) the work stays on the calling thread. Waking
    /// a parked dispatch worker measured ~10–40 µs on the 2-vCPU development VM (far more
    /// than the bare dispatch cost), while 128³ multiply-adds take ~35 µs on one core, so
    /// splitting smaller problems does not pay.
    static let parallelThreshold = 128 * 128 * 128
    /// Narrowest column slab handed to a worker by the column-parallel driver.
    static let minSlabColumns = 64
    /// Processors available; `threads` is capped at this.
    static let cpuCount = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Smallest row chunk handed to a worker by the row-parallel driver.
    static let minChunkRows = 12
    /// Floats of op(B) the row-parallel driver packs up front (16 MiB).
    static let packedBBudget = 4 << 20
    /// Target size of one B packing job in the row-parallel driver (floats).
    static let packJobFloats = 64 << 10

    // MARK: - Public API

    /// Cache-blocked, packed GEMM: C = alpha · op(A) · op(B) + beta · C.
    ///
    /// - Parameters:
    ///   - transA: A is stored k×m (`lda ≥ m`) instead of m×k (`lda ≥ k`).
    ///   - transB: B is stored n×k (`ldb ≥ k`) instead of k×n (`ldb ≥ n`).
    ///   - beta: when 0, C is not read (it may hold NaN or garbage).
    ///   - threads: upper bound on worker threads (capped at the processor count). With
    ///     `threads ≥ 2` and m·n·k ≥ 128³ the work is split with
    ///     `DispatchQueue.concurrentPerform` into jobs taken dynamically: packing of op(B)
    ///     and then row chunks of C (or, when m is small, column slabs of C). Each worker
    ///     packs A into its own buffer; all buffers are allocated once per call.
    public static func tuned(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "ReferenceGemm: negative dimension")
        precondition(lda >= max(1, transA ? m : k), "ReferenceGemm: lda too small")
        precondition(ldb >= max(1, transB ? k : n), "ReferenceGemm: ldb too small")
        precondition(ldc >= max(1, n), "ReferenceGemm: ldc too small")
        if m == 0 || n == 0 { return }
        if k == 0 || alpha == 0 {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        let p = Problem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
                        a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        let workers = m * n * k < parallelThreshold ? 1 : max(1, min(threads, cpuCount))
        if workers >= 2 && m >= 4 * workers * minChunkRows {
            rowParallel(p, workers: workers)
        } else if workers >= 2 && n >= 2 * minSlabColumns {
            columnParallel(p, workers: workers)
        } else {
            let floats = serialWorkspace(m: m, n: n, k: k)
            let ws = allocateFloats(floats)
            defer { ws.deallocate() }
            serial(p, workspace: ws)
        }
    }

    /// Naive triple loop — the test oracle. Accumulates in `Double`.
    /// Same conventions as ``tuned(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:threads:)``;
    /// beta == 0 does not read C.
    public static func naive(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                var r = Double(alpha) * sum
                if beta != 0 { r += Double(beta) * Double(c[i * ldc + j]) }
                c[i * ldc + j] = Float(r)
            }
        }
    }

    // MARK: - Driver

    /// C *= beta (beta == 0 stores zeros without reading C).
    static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if beta == 1 { return }
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }

    /// The operands of one GEMM (or of a column slab of one), passed to workers.
    struct Problem: @unchecked Sendable {
        var transA: Bool, transB: Bool
        var m: Int, n: Int, k: Int
        var alpha: Float, beta: Float
        var a: UnsafePointer<Float>, lda: Int
        var b: UnsafePointer<Float>, ldb: Int
        var c: UnsafeMutablePointer<Float>, ldc: Int

        /// Address of op(A)[i, p].
        @inline(__always) func aAt(_ i: Int, _ p: Int) -> UnsafePointer<Float> {
            transA ? a + p * lda + i : a + i * lda + p
        }
        /// Address of op(B)[p, j].
        @inline(__always) func bAt(_ p: Int, _ j: Int) -> UnsafePointer<Float> {
            transB ? b + j * ldb + p : b + p * ldb + j
        }
        /// The sub-problem producing columns j0..<j1 of C.
        func columns(_ j0: Int, _ j1: Int) -> Problem {
            var q = self
            q.n = j1 - j0
            q.b = bAt(0, j0)
            q.c = c + j0
            return q
        }
    }

    /// Shared job counter for dynamic scheduling (workers take jobs in increasing order)
    /// plus a count of finished pack jobs.
    final class JobState: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var packsDone = 0
        func take() -> Int {
            lock.lock(); defer { lock.unlock() }
            let v = next
            next += 1
            return v
        }
        func finishedPack() { lock.lock(); packsDone += 1; lock.unlock() }
        /// Returns once `count` pack jobs have finished. Every pack job has already been
        /// taken by a running thread when this is called, so the wait is short.
        func waitForPacks(_ count: Int) {
            while true {
                lock.lock()
                let done = packsDone
                lock.unlock()
                if done >= count { return }
                sched_yield()
            }
        }
        func reset() { lock.lock(); next = 0; packsDone = 0; lock.unlock() }
    }

    /// Float-aligned-to-64-bytes scratch memory (every packed micro-panel starts on a cache line).
    static func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// Floats of workspace `serial` needs: packed B block, packed A block, one edge tile.
    static func serialWorkspace(m: Int, n: Int, k: Int) -> Int {
        let kcMax = min(kcBlock, k)
        return roundUp(min(ncBlock, roundUp(n, nr)) * kcMax, 16)
            + roundUp(min(mcBlock, roundUp(m, mr)) * kcMax, 16) + mr * nr
    }

    /// One thread's blocked GEMM over the whole (sub)problem, packing into `workspace`
    /// (at least `serialWorkspace(m:n:k:)` floats, 64-byte aligned).
    static func serial(_ p: Problem, workspace: UnsafeMutablePointer<Float>) {
        let m = p.m, n = p.n, k = p.k
        let kcMax = min(kcBlock, k)
        let packedB = workspace
        let packedA = packedB + roundUp(min(ncBlock, roundUp(n, nr)) * kcMax, 16)
        let tile = packedA + roundUp(min(mcBlock, roundUp(m, mr)) * kcMax, 16)
        var jc = 0
        while jc < n {
            let ncCur = min(ncBlock, n - jc)
            var pc = 0
            while pc < k {
                let kcCur = min(kcBlock, k - pc)
                packB(trans: p.transB, kc: kcCur, nc: ncCur, src: p.bAt(pc, jc), ld: p.ldb, dst: packedB)
                let betaCur: Float = pc == 0 ? p.beta : 1
                var ic = 0
                while ic < m {
                    let mcCur = min(mcBlock, m - ic)
                    packA(trans: p.transA, mc: mcCur, kc: kcCur, src: p.aAt(ic, pc), ld: p.lda, dst: packedA)
                    macroKernel(mc: mcCur, nc: ncCur, kc: kcCur, packedA: packedA, packedB: packedB,
                                alpha: p.alpha, beta: betaCur, c: p.c + ic * p.ldc + jc, ldc: p.ldc, tile: tile)
                    ic += mcBlock
                }
                pc += kcBlock
            }
            jc += ncBlock
        }
    }

    /// Multithreaded driver for m large enough to split into row chunks; one dispatch per
    /// column block of `packedBColumns(k:n:)` columns (normally the whole of C).
    ///
    /// The dispatch's jobs, taken dynamically in order by `workers` threads:
    /// 1. pack jobs — each packs a group of B micro-panels for *all* KC blocks of k, so the
    ///    whole k×nc slice of op(B) is packed once and shared;
    /// 2. row chunks — guided sizes (large first, ≥ `minChunkRows` rows, ≤ MC), so the tail
    ///    imbalance is small. A chunk waits (briefly) until every pack job has *finished*,
    ///    then for each KC block packs its rows of A into the worker's own buffer and runs
    ///    the macro-kernel over all columns.
    /// Pack jobs are taken before any chunk, so a waiting chunk only ever waits on threads
    /// that are already running a pack job; a worker that starts late simply gets fewer jobs.
    static func rowParallel(_ p: Problem, workers: Int) {
        let m = p.m, n = p.n, k = p.k
        let kcMax = min(kcBlock, k)
        let kBlocks = (k + kcBlock - 1) / kcBlock
        let ncPar = packedBColumns(k: k, n: n)

        // Guided row chunks.
        var bounds = [0]
        while bounds.last! < m {
            let rest = m - bounds.last!
            let size = min(rest, mcBlock, max(minChunkRows, roundUp((rest + 2 * workers - 1) / (2 * workers), mr)))
            bounds.append(bounds.last! + size)
        }
        let chunks = bounds.count - 1
        let rowsMax = min(mcBlock, roundUp(m, mr))

        let bFloats = roundUp(k * roundUp(ncPar, nr), 16)
        let aFloats = roundUp(rowsMax * kcMax, 16) + mr * nr
        let ws = allocateFloats(bFloats + workers * aFloats)
        defer { ws.deallocate() }
        let buffers = Workspace(base: ws)
        let state = JobState()

        var jc = 0
        while jc < n {
            let ncCur = min(ncPar, n - jc)
            let ncRound = roundUp(ncCur, nr)
            let panels = ncRound / nr
            // Pack jobs of ≥ ~packJobFloats each (a few µs), at most 4 per worker.
            let packJobsWanted = min(4 * workers, max(1, k * ncRound / packJobFloats))
            let panelsPerJob = max(1, (panels + packJobsWanted - 1) / packJobsWanted)
            let packJobs = (panels + panelsPerJob - 1) / panelsPerJob
            let bounds = bounds, jcCur = jc
            state.reset()
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let packedB = buffers.base
                let packedA = packedB + bFloats + w * aFloats
                let tile = packedA + roundUp(rowsMax * kcMax, 16)
                var packsSeen = false
                while true {
                    let job = state.take()
                    if job < packJobs {
                        // Panels [q0, q1) of every KC block. Block t starts at t·KC·ncRound floats.
                        let q0 = job * panelsPerJob, q1 = min(panels, q0 + panelsPerJob)
                        let j0 = q0 * nr, cols = min(ncCur, q1 * nr) - j0
                        for t in 0..<kBlocks {
                            let pc = t * kcBlock, kcCur = min(kcBlock, k - pc)
                            packB(trans: p.transB, kc: kcCur, nc: cols, src: p.bAt(pc, jcCur + j0), ld: p.ldb,
                                  dst: packedB + pc * ncRound + j0 * kcCur)
                        }
                        state.finishedPack()
                        continue
                    }
                    let chunk = job - packJobs
                    if chunk >= chunks { break }
                    if !packsSeen { state.waitForPacks(packJobs); packsSeen = true }
                    let ic = bounds[chunk], rows = bounds[chunk + 1] - ic
                    for t in 0..<kBlocks {
                        let pc = t * kcBlock, kcCur = min(kcBlock, k - pc)
                        packA(trans: p.transA, mc: rows, kc: kcCur, src: p.aAt(ic, pc), ld: p.lda, dst: packedA)
                        macroKernel(mc: rows, nc: ncCur, kc: kcCur, packedA: packedA, packedB: packedB + pc * ncRound,
                                    alpha: p.alpha, beta: pc == 0 ? p.beta : 1, c: p.c + ic * p.ldc + jcCur,
                                    ldc: p.ldc, tile: tile)
                    }
                }
            }
            jc += ncPar
        }
    }

    /// Columns of op(B) the row-parallel driver packs at once (all of k): as many as fit
    /// `packedBBudget` floats, a multiple of NR, at least NR.
    static func packedBColumns(k: Int, n: Int) -> Int {
        min(roundUp(n, nr), max(nr, packedBBudget / max(k, 1) / nr * nr))
    }

    /// Multithreaded driver for short, wide problems (too few rows to split): C is cut into
    /// column slabs (whole NR tiles) taken dynamically; each worker runs `serial` on a slab
    /// with its own workspace. A (only a few rows) is re-packed per slab, B is not shared.
    static func columnParallel(_ p: Problem, workers: Int) {
        let n = p.n
        let slab = max(minSlabColumns, roundUp((n + 4 * workers - 1) / (4 * workers), nr))
        let slabs = (n + slab - 1) / slab
        let wsFloats = roundUp(serialWorkspace(m: p.m, n: slab, k: p.k), 16)
        let ws = allocateFloats(workers * wsFloats)
        defer { ws.deallocate() }
        let buffers = Workspace(base: ws)
        let counter = JobState()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while true {
                let job = counter.take()
                if job >= slabs { break }
                let j0 = job * slab
                serial(p.columns(j0, min(n, j0 + slab)), workspace: buffers.base + w * wsFloats)
            }
        }
    }

    /// Sendable handle on a call's packing memory (workers use disjoint parts of it).
    struct Workspace: @unchecked Sendable {
        let base: UnsafeMutablePointer<Float>
    }

    @inline(__always)
    static func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }

    /// Runs the micro-kernel over one MC×NC block of C: B micro-panels in the
    /// outer loop (each stays in L1 while every A micro-panel of the block
    /// streams past it from L2).
    static func macroKernel(mc: Int, nc: Int, kc: Int,
                            packedA: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>,
                            alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                            tile: UnsafeMutablePointer<Float>) {
        var jr = 0
        while jr < nc {
            let cols = min(nr, nc - jr)
            let bPanel = UnsafePointer(packedB + jr * kc)
            var ir = 0
            while ir < mc {
                let rows = min(mr, mc - ir)
                let aPanel = UnsafePointer(packedA + ir * kc)
                let cTile = c + ir * ldc + jr
                if rows == mr && cols == nr {
                    microKernel(kc: kc, a: aPanel, b: bPanel, alpha: alpha, beta: beta, c: cTile, ldc: ldc)
                } else {
                    // Edge tile: compute the full 6×16 into scratch (beta = 0), then merge.
                    microKernel(kc: kc, a: aPanel, b: bPanel, alpha: alpha, beta: 0, c: tile, ldc: nr)
                    for i in 0..<rows {
                        let src = tile + i * nr, dst = cTile + i * ldc
                        if beta == 0 {
                            for j in 0..<cols { dst[j] = src[j] }
                        } else {
                            for j in 0..<cols { dst[j] = src[j] + beta * dst[j] }
                        }
                    }
                }
                ir += mr
            }
            jr += nr
        }
    }

    // MARK: - Packing

    /// Packs op(A)[0..<mc, 0..<kc] into MR-row micro-panels: panel r holds, for each
    /// p in 0..<kc, the MR values op(A)[r·MR + 0..<MR, p] contiguously. Rows past mc
    /// are zero. `src` points at op(A)[0, 0]; the transpose is resolved here. Both
    /// cases read the source along its stored rows (sequential, prefetch-friendly).
    static func packA(trans: Bool, mc: Int, kc: Int, src: UnsafePointer<Float>, ld: Int,
                      dst: UnsafeMutablePointer<Float>) {
        let panelStride = mr * kc
        let full = mc / mr * mr
        if trans {
            // op(A)[i, p] = src[p·ld + i]: stored row p feeds entry p of every panel.
            for p in 0..<kc {
                let row = src + p * ld
                var o = dst + p * mr
                var i = 0
                while i < full {
                    // 6 contiguous floats: one 4-wide and one 2-wide move.
                    let r = UnsafeRawPointer(row + i), d = UnsafeMutableRawPointer(o)
                    d.storeBytes(of: r.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                    d.storeBytes(of: r.loadUnaligned(fromByteOffset: 16, as: SIMD2<Float>.self),
                                 toByteOffset: 16, as: SIMD2<Float>.self)
                    o += panelStride
                    i += mr
                }
                if i < mc {
                    for r in 0..<mr { o[r] = i + r < mc ? row[i + r] : 0 }
                }
            }
        } else {
            // op(A)[i, p] = src[i·ld + p]: MR stored rows read side by side.
            var out = dst
            var i = 0
            while i < full {
                let r0 = src + i * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld, r4 = r3 + ld, r5 = r4 + ld
                for p in 0..<kc {
                    let o = out + p * mr
                    o[0] = r0[p]; o[1] = r1[p]; o[2] = r2[p]
                    o[3] = r3[p]; o[4] = r4[p]; o[5] = r5[p]
                }
                out += panelStride
                i += mr
            }
            if i < mc {
                let rows = mc - i
                for p in 0..<kc {
                    let o = out + p * mr
                    for r in 0..<mr { o[r] = r < rows ? src[(i + r) * ld + p] : 0 }
                }
            }
        }
    }

    /// Packs op(B)[0..<kc, 0..<nc] into NR-column micro-panels: panel c holds, for each
    /// p in 0..<kc, the NR values op(B)[p, c·NR + 0..<NR] contiguously. Columns past nc
    /// are zero. `src` points at op(B)[0, 0]; the transpose is resolved here.
    static func packB(trans: Bool, kc: Int, nc: Int, src: UnsafePointer<Float>, ld: Int,
                      dst: UnsafeMutablePointer<Float>) {
        let panelStride = nr * kc
        let full = nc / nr * nr
        if trans {
            // op(B)[p, j] = src[j·ld + p]: stored row j is column j of one panel. Full
            // panels move 16×8 blocks through registers (two 8×8 transposes).
            var out = dst
            var j = 0
            let kc8 = kc / 8 * 8
            while j < nc {
                let cols = min(nr, nc - j)
                if cols == nr {
                    let s = src + j * ld
                    var p = 0
                    while p < kc8 {
                        let lo = transpose8(s + p, ld)
                        let hi = transpose8(s + 8 * ld + p, ld)
                        let o = UnsafeMutableRawPointer(out + p * nr)
                        o.storeBytes(of: lo.0, toByteOffset: 0, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.0, toByteOffset: 32, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.1, toByteOffset: 64, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.1, toByteOffset: 96, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.2, toByteOffset: 128, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.2, toByteOffset: 160, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.3, toByteOffset: 192, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.3, toByteOffset: 224, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.4, toByteOffset: 256, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.4, toByteOffset: 288, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.5, toByteOffset: 320, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.5, toByteOffset: 352, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.6, toByteOffset: 384, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.6, toByteOffset: 416, as: SIMD8<Float>.self)
                        o.storeBytes(of: lo.7, toByteOffset: 448, as: SIMD8<Float>.self)
                        o.storeBytes(of: hi.7, toByteOffset: 480, as: SIMD8<Float>.self)
                        p += 8
                    }
                    for jj in 0..<nr {
                        let row = s + jj * ld
                        for q in kc8..<kc { out[q * nr + jj] = row[q] }
                    }
                } else {
                    for jj in 0..<cols {
                        let row = src + (j + jj) * ld
                        for q in 0..<kc { out[q * nr + jj] = row[q] }
                    }
                    for q in 0..<kc {
                        for jj in cols..<nr { out[q * nr + jj] = 0 }
                    }
                }
                out += panelStride
                j += nr
            }
        } else {
            // op(B)[p, j] = src[p·ld + j]: NR contiguous values per p, one panel at a time
            // (measured faster than sweeping whole rows across all panels).
            var out = dst
            var j = 0
            while j < full {
                let s = src + j
                for p in 0..<kc {
                    let v = UnsafeRawPointer(s + p * ld).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(out + p * nr).storeBytes(of: v, as: SIMD16<Float>.self)
                }
                out += panelStride
                j += nr
            }
            if j < nc {
                let cols = nc - j
                for p in 0..<kc {
                    let row = src + p * ld + j
                    let o = out + p * nr
                    for c in 0..<nr { o[c] = c < cols ? row[c] : 0 }
                }
            }
        }
    }

    typealias Rows8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                       SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// Loads the 8×8 block at `s` (row stride `ld`) and returns its transpose as 8 rows.
    /// Viewing the 64 values as one array indexed 8·row + col, an even/odd split of
    /// consecutive vector pairs rotates the 6-bit index right by one bit; three rounds
    /// swap the row and column bits, i.e. transpose.
    @inline(__always)
    static func transpose8(_ s: UnsafePointer<Float>, _ ld: Int) -> Rows8 {
        @inline(__always) func load(_ r: Int) -> SIMD8<Float> {
            UnsafeRawPointer(s + r * ld).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func round(_ v: Rows8) -> Rows8 {
            let p0 = SIMD16(lowHalf: v.0, highHalf: v.1), p1 = SIMD16(lowHalf: v.2, highHalf: v.3)
            let p2 = SIMD16(lowHalf: v.4, highHalf: v.5), p3 = SIMD16(lowHalf: v.6, highHalf: v.7)
            return (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf,
                    p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
        }
        return round(round(round((load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7)))))
    }

    // MARK: - Micro-kernel

    /// 6×16 register-tile kernel: C[0..<6, 0..<16] = alpha · Ã·B̃ + beta · C, where Ã is
    /// a packed 6×kc micro-panel (6 floats per k step) and B̃ a packed kc×16 micro-panel
    /// (16 floats per k step, 32-byte aligned). Accumulates in 12 `SIMD8<Float>`
    /// registers; each k step is 2 vector loads of B, 6 broadcasts of A and 12 FMAs.
    /// beta == 0 writes C without reading it.
    @inline(__always)
    static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD8<Float>
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let b0 = pb.load(as: V.self)
            let b1 = pb.load(fromByteOffset: 32, as: V.self)
            var av = V(repeating: pa[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = V(repeating: pa[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = V(repeating: pa[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = V(repeating: pa[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = V(repeating: pa[4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = V(repeating: pa[5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            pa += 6
            pb += 64
        }
        store(c00, c01, row: c, alpha: alpha, beta: beta)
        store(c10, c11, row: c + ldc, alpha: alpha, beta: beta)
        store(c20, c21, row: c + 2 * ldc, alpha: alpha, beta: beta)
        store(c30, c31, row: c + 3 * ldc, alpha: alpha, beta: beta)
        store(c40, c41, row: c + 4 * ldc, alpha: alpha, beta: beta)
        store(c50, c51, row: c + 5 * ldc, alpha: alpha, beta: beta)
    }

    /// Writes one 16-wide row of the register tile: row = alpha·(v0,v1) + beta·row.
    @inline(__always)
    static func store(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, row: UnsafeMutablePointer<Float>,
                      alpha: Float, beta: Float) {
        let p = UnsafeMutableRawPointer(row)
        if beta == 0 {
            let av = SIMD8<Float>(repeating: alpha)
            p.storeBytes(of: v0 * av, as: SIMD8<Float>.self)
            p.storeBytes(of: v1 * av, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            let o0 = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
            let o1 = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let av = SIMD8<Float>(repeating: alpha), bv = SIMD8<Float>(repeating: beta)
            p.storeBytes(of: (v0 * av).addingProduct(o0, bv), as: SIMD8<Float>.self)
            p.storeBytes(of: (v1 * av).addingProduct(o1, bv), toByteOffset: 32, as: SIMD8<Float>.self)
        }
    }
}
