// WorkerPool: persistent worker threads that run the parts of a parallel
// loop, OpenMP-style. A worker spins for a short while after each part,
// waiting for the next one, and sleeps on a condition variable after that,
// so back-to-back kernels cost no thread wake-ups or context switches.

import Foundation
import Synchronization

/// Runs `parts` independent pieces of work at once: the caller runs part 0,
/// pool workers the others.
///
/// One parallel region runs at a time. A caller that finds the pool busy
/// (another thread's region, or a region nested inside a part) runs its parts
/// itself, one after another, so the parts must not wait on each other.
final class WorkerPool: @unchecked Sendable {
    /// The process-wide pool every backend's kernels share.
    static let shared = WorkerPool()

    /// How long an idle worker spins before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    private final class Worker: @unchecked Sendable {
        /// The region this worker has been given (it runs it when this moves past what it has seen).
        let assigned = Atomic<Int>(0)
    }

    private let busy = Atomic<Bool>(false)
    private let pending = Atomic<Int>(0)
    private var workers: [Worker] = []
    private var region = 0
    private var job: UncheckedBox<(Int) -> Void>?
    private let sleep = NSCondition()
    private var sleepers = 0
    private let cpuCount = ProcessInfo.processInfo.activeProcessorCount

    /// Calls `body(p)` for p in 0..<parts, concurrently when the pool is free.
    func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 { if parts == 1 { body(0) }; return }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for p in 0..<parts { body(p) }
            return
        }
        while workers.count < parts - 1 { spawn() }
        withoutActuallyEscaping(body) { body in
            job = UncheckedBox(body)
            pending.store(parts - 1, ordering: .relaxed)
            region &+= 1
            for w in 0..<(parts - 1) { workers[w].assigned.store(region, ordering: .releasing) }
            sleep.lock()
            if sleepers > 0 { sleep.broadcast() }
            sleep.unlock()
            body(0)
            // Spin for the other parts; past a few thousand tries, yield so that a
            // worker waiting for a core (more threads than cores) gets one.
            var tries = 0
            while pending.load(ordering: .acquiring) > 0 {
                tries += 1
                if tries > 4096 { sched_yield() }
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func spawn() {
        let worker = Worker(), part = workers.count + 1
        workers.append(worker)
        let thread = Thread(block: { [self] in loop(worker, part: part) })
        thread.name = "anneal-worker-\(part)"
        thread.start()
    }

    private func loop(_ worker: Worker, part: Int) {
        var seen = 0
        // More workers than processors: spinning would take a core from the thread that has work.
        let spin = part < cpuCount ? Self.spinNanoseconds : 0
        while true {
            var start: UInt64 = 0, tries = 0
            while worker.assigned.load(ordering: .acquiring) == seen {
                tries += 1
                if tries & 63 != 0 { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if start == 0 { start = now; continue }
                if now - start < spin { continue }
                sleep.lock()
                sleepers += 1
                while worker.assigned.load(ordering: .acquiring) == seen { sleep.wait() }
                sleepers -= 1
                sleep.unlock()
            }
            seen = worker.assigned.load(ordering: .acquiring)
            job!.value(part)
            pending.subtract(1, ordering: .releasing)
        }
    }
}
