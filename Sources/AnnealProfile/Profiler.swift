// The profiler: an observer of every kernel call (through ObservedBackend)
// and of module/phase scopes (through ProfileScope), recording one OpRecord
// per kernel and one SpanRecord per step, phase and module call.

import Anneal
import Foundation

/// One kernel call, with where it ran.
public struct OpRecord: Sendable, Equatable {
    /// Kernel name ("gemm", "unary.relu", "softmax", …).
    public var name: String
    /// Start and end in nanoseconds of `DispatchTime` uptime.
    public var start: UInt64, end: UInt64
    /// FLOPs by the rule of `KernelEvent.flops` (gemm 2·m·n·k per batch item).
    public var flops: Int
    /// Bytes read and written.
    public var bytesRead: Int, bytesWritten: Int
    /// Operand shapes as the backend reports them ("m=256 n=1024 k=784 batch=1 tA=0 tB=1").
    public var detail: String
    /// Dotted module path the kernel ran under ("" outside every module).
    public var module: String
    /// Training phase, if one was marked.
    public var phase: ProfileScope.Phase?
    /// Index of the profiled step (−1 outside `Profiler.step`).
    public var step: Int

    /// A record with these fields.
    public init(name: String, start: UInt64, end: UInt64, flops: Int, bytesRead: Int = 0, bytesWritten: Int = 0,
                detail: String = "", module: String = "", phase: ProfileScope.Phase? = nil, step: Int = 0) {
        self.name = name; self.start = start; self.end = end; self.flops = flops
        self.bytesRead = bytesRead; self.bytesWritten = bytesWritten; self.detail = detail
        self.module = module; self.phase = phase; self.step = step
    }

    /// Wall time in seconds.
    public var seconds: Double { Double(end &- start) * 1e-9 }

    /// The GEMM batch count parsed from `detail` (nil for other kernels).
    public var gemmBatch: Int? {
        guard name == "gemm", let r = detail.range(of: "batch=") else { return nil }
        return Int(detail[r.upperBound...].prefix { $0.isNumber })
    }

    /// Which FLOP total this kernel adds to (see `FlopClass`).
    public var flopClass: FlopClass {
        guard let batch = gemmBatch else { return .other }
        return batch > 1 ? .attention : .linear
    }
}

/// The FLOP totals a profile reports.
///
/// Rule: a GEMM issued with batch = 1 (`Tensor.linear` and 2-D `matmul`,
/// i.e. dense layers, forward and backward) is `.linear`; a batched GEMM
/// (batch > 1, as `Tensor.attention` issues its score and value products
/// with batch = B·H, forward and backward) is `.attention`. Every other
/// kernel is `.other`, counted by `KernelEvent.flops`' rule (elementwise and
/// reductions 1 per element, softmax 5, layer norm 8, cross-entropy 5, …).
public enum FlopClass: String, Sendable, CaseIterable {
    case linear, attention, other
}

/// A named interval: a step, a phase or a module call.
public struct SpanRecord: Sendable, Equatable {
    /// What the span is.
    public enum Kind: String, Sendable { case step, phase, module }
    /// "step 0", "forward", or the full module path ("blocks.0.attention").
    public var name: String
    /// Step, phase or module.
    public var kind: Kind
    /// Start and end in nanoseconds of `DispatchTime` uptime.
    public var start: UInt64, end: UInt64
    /// Nesting depth (0 = outermost).
    public var depth: Int
    /// Phase the span belongs to (a phase span: itself).
    public var phase: ProfileScope.Phase?
    /// Index of the profiled step (−1 outside `Profiler.step`).
    public var step: Int

    /// A span with these fields.
    public init(name: String, kind: Kind, start: UInt64, end: UInt64, depth: Int = 0,
                phase: ProfileScope.Phase? = nil, step: Int = 0) {
        self.name = name; self.kind = kind; self.start = start; self.end = end
        self.depth = depth; self.phase = phase; self.step = step
    }

    /// Wall time in seconds.
    public var seconds: Double { Double(end &- start) * 1e-9 }
}

/// One profiled training step.
public struct StepRecord: Sendable, Equatable {
    /// Start and end in nanoseconds of `DispatchTime` uptime.
    public var start: UInt64, end: UInt64
    /// Peak live tensor bytes during the step (`MemoryStats`; 0 when not tracked).
    public var peakBytes: Int

    /// A step with these fields.
    public init(start: UInt64, end: UInt64, peakBytes: Int = 0) {
        self.start = start; self.end = end; self.peakBytes = peakBytes
    }

    /// Wall time in seconds.
    public var seconds: Double { Double(end &- start) * 1e-9 }
}

/// Records every kernel, scope and step while `run` is active.
///
///     let profiler = Profiler()
///     profiler.run { for _ in 0..<5 { profiler.step { _ = w.step() } } }
///     let report = profiler.report()
///
/// `run` installs an `ObservedBackend` over the current backend and this
/// profiler as the `ProfileScope` observer; outside `run` nothing is
/// observed and nothing costs anything. Ops must be issued from one thread
/// at a time (kernels may use threads inside).
public final class Profiler: KernelObserver, ProfileScopeObserver, @unchecked Sendable {
    private struct Open {
        let name: String, kind: SpanRecord.Kind, start: UInt64
        let savedModule: String, savedPhase: ProfileScope.Phase?
    }

    private let lock = NSLock()
    private var ops: [OpRecord] = []
    private var spans: [SpanRecord] = []
    private var steps: [StepRecord] = []
    private var stack: [Open] = []
    private var module = ""
    private var phase: ProfileScope.Phase?
    private var stepIndex = -1
    /// Nanoseconds inside `run` since the last reset, and the start of the active `run` (or of the reset inside it).
    private var runTotal: UInt64 = 0
    private var runEntered: UInt64?
    private let tracksMemory: Bool
    /// One stored copy of every name, shape and path: records share these
    /// instead of keeping a fresh small string per kernel alive, which would
    /// fragment the heap between the step's tensor buffers.
    private var strings: Set<String> = []
    private var paths: [PathKey: String] = [:]
    private struct PathKey: Hashable { let parent: String, name: String }

    /// A profiler; with `trackMemory` it starts `MemoryStats` tracking now, so
    /// tensors allocated from here on count toward `peakBytes` (create it
    /// before the model to include weights and optimizer state).
    public init(trackMemory: Bool = true) {
        tracksMemory = trackMemory
        if trackMemory { MemoryStats.startTracking() }
        ops.reserveCapacity(1 << 12); spans.reserveCapacity(1 << 10); stack.reserveCapacity(64)
    }

    /// Runs `body` with every kernel and scope recorded.
    public func run<R>(_ body: () throws -> R) rethrows -> R {
        let observed = ObservedBackend(Runtime.backend, observer: self)
        ProfileScope.install(self)
        defer { ProfileScope.uninstall() }
        lock.withLock { runEntered = Self.now() }
        defer { lock.withLock { runTotal += Self.now() &- (runEntered ?? Self.now()); runEntered = nil } }
        return try Runtime.withBackend(observed, body)
    }

    /// Runs `body` as one training step (a span, a step time and a memory peak).
    public func step<R>(_ body: () throws -> R) rethrows -> R {
        if tracksMemory { MemoryStats.resetPeak() }
        ProfileScope.discardOpenScope()
        let start = lock.withLock { () -> UInt64 in
            stepIndex = steps.count
            let t = Self.now()
            stack.append(Open(name: intern("step \(stepIndex)"), kind: .step, start: t, savedModule: module, savedPhase: phase))
            return t
        }
        defer {
            ProfileScope.discardOpenScope()
            lock.withLock {
                let end = Self.now()
                close(through: stack.lastIndex { $0.kind == .step } ?? 0, at: end)
                steps.append(StepRecord(start: start, end: end, peakBytes: tracksMemory ? max(0, MemoryStats.peakBytes) : 0))
                stepIndex = -1
            }
        }
        return try body()
    }

    /// Runs `body` as training phase `phase` (the same as `ProfileScope.withPhase`).
    public func phase<R>(_ phase: ProfileScope.Phase, _ body: () throws -> R) rethrows -> R {
        try ProfileScope.withPhase(phase, body)
    }

    /// Drops every record so far (after warm-up steps).
    public func reset() {
        lock.withLock {
            ops.removeAll(keepingCapacity: true); spans.removeAll(keepingCapacity: true); steps.removeAll(keepingCapacity: true)
            runTotal = 0
            if runEntered != nil { runEntered = Self.now() }
        }
    }

    /// Everything recorded so far.
    public func report() -> ProfileReport {
        lock.withLock {
            ProfileReport(ops: ops, spans: spans, steps: steps,
                          runSeconds: Double(runTotal + (runEntered.map { Self.now() &- $0 } ?? 0)) * 1e-9)
        }
    }

    // MARK: Observer callbacks

    /// Stores `event` with the current module path, phase and step.
    public func record(_ event: KernelEvent) {
        lock.lock()
        ops.append(OpRecord(name: intern(event.name), start: event.start, end: event.end, flops: event.flops,
                            bytesRead: event.bytesRead, bytesWritten: event.bytesWritten, detail: intern(event.detail),
                            module: module, phase: phase, step: stepIndex))
        lock.unlock()
    }

    /// Opens a phase or module scope (extending the module path).
    public func scopeBegan(_ name: String, kind: ProfileScope.Kind) {
        lock.withLock {
            let t = Self.now()
            stack.append(Open(name: name, kind: kind == .phase ? .phase : .module, start: t, savedModule: module, savedPhase: phase))
            switch kind {
            case .module: module = path(module, name)
            case .phase: phase = ProfileScope.Phase(rawValue: name)
            }
        }
    }

    /// Closes the innermost open scope `name` (and any left open inside it), emitting spans.
    public func scopeEnded(_ name: String, kind: ProfileScope.Kind) {
        lock.withLock {
            let k: SpanRecord.Kind = kind == .phase ? .phase : .module
            // Innermost matching open scope, not crossing its step.
            guard let i = stack.lastIndex(where: { $0.name == name && $0.kind == k }),
                  !stack[i...].contains(where: { $0.kind == .step }) else { return }
            close(through: i, at: Self.now())
        }
    }

    /// Pops `stack[i...]`, innermost first, emitting a span for each.
    private func close(through i: Int, at end: UInt64) {
        while stack.count > i {
            let o = stack.removeLast()
            let name: String
            switch o.kind {
            case .module: name = module
            case .phase, .step: name = o.name
            }
            spans.append(SpanRecord(name: name, kind: o.kind, start: o.start, end: end, depth: stack.count,
                                    phase: o.kind == .step ? nil : phase, step: stepIndex))
            module = o.savedModule
            phase = o.savedPhase
        }
    }

    /// The stored copy of `s` (call with the lock held).
    private func intern(_ s: String) -> String {
        if let stored = strings.firstIndex(of: s) { return strings[stored] }
        strings.insert(s)
        return s
    }

    /// The module path `parent.name`, built once (call with the lock held).
    private func path(_ parent: String, _ name: String) -> String {
        let key = PathKey(parent: parent, name: name)
        if let p = paths[key] { return p }
        let p = intern(parent.isEmpty ? name : parent + "." + name)
        paths[PathKey(parent: parent, name: intern(name))] = p
        return p
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
