// Process-wide settings: which backend runs ops (a default plus scoped
// overrides), how many threads kernels use, and whether autograd records.

import Foundation

/// Backend selection, thread control and gradient mode.
///
/// The default backend comes from `ANNEAL_BACKEND` (`openblas` or
/// `reference`; OpenBLAS when built with it) and the thread count from
/// `ANNEAL_THREADS` (default: all cores). `withBackend` overrides the backend
/// for one scope (per task/thread).
public enum Runtime {
    /// The pure-Swift backend.
    public static let reference = ReferenceBackend(threads: initialThreads)

    #if OpenBLAS
    /// The OpenBLAS backend (nil when built without the OpenBLAS trait).
    public static let openBLAS: Backend? = OpenBLASBackend(threads: initialThreads)
    #else
    /// The OpenBLAS backend (nil when built without the OpenBLAS trait).
    public static let openBLAS: Backend? = nil
    #endif

    /// Every backend this build has, OpenBLAS first.
    public static var availableBackends: [Backend] { [openBLAS, reference].compactMap { $0 } }

    nonisolated(unsafe) private static var processDefault: Backend = {
        if let env = ProcessInfo.processInfo.environment["ANNEAL_BACKEND"], let b = backend(named: env) { return b }
        return openBLAS ?? reference
    }()

    @TaskLocal static var scoped: Backend?

    /// The backend ops run on now: the innermost `withBackend`, else the default.
    public static var backend: Backend { scoped ?? defaultBackend }

    /// The process-wide default backend.
    public static var defaultBackend: Backend {
        get { processDefault }
        set { processDefault = newValue }
    }

    /// Looks a backend up by name (`openblas`, `reference`); nil if unknown or not built.
    public static func backend(named name: String) -> Backend? {
        switch name.lowercased() {
        case "openblas", "blas": openBLAS
        case "reference", "ref", "swift": reference
        default: nil
        }
    }

    /// Runs `body` with `backend` as the current backend.
    public static func withBackend<R>(_ backend: Backend, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(backend, operation: body)
    }

    static let initialThreads: Int = {
        if let s = ProcessInfo.processInfo.environment["ANNEAL_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Threads used by every backend's kernels (including OpenBLAS's own pool).
    public static var threads: Int {
        get { defaultBackend.threads }
        set {
            let n = max(1, newValue)
            for b in availableBackends { b.threads = n }
        }
    }

    /// Runs `body(p)` for every p in 0..<parts, at the same time on the
    /// shared worker pool (the calling thread runs part 0). Parts must touch
    /// disjoint memory and must not wait on each other: when the pool is
    /// already running a region (another thread's, or this call is nested in
    /// a part) the parts run one after another on the calling thread.
    public static func parallel(parts: Int, _ body: (Int) -> Void) {
        WorkerPool.shared.run(parts: parts, body)
    }

    // MARK: Gradient mode

    @TaskLocal static var gradDisabled = false

    /// Whether ops record the autograd graph now.
    public static var isGradEnabled: Bool { !gradDisabled }

    /// Runs `body` without recording gradients (as `torch.no_grad()`).
    public static func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $gradDisabled.withValue(true, operation: body)
    }
}
