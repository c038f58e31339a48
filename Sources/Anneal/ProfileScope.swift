// Named scopes (module paths) and training phases for the profiler. With no
// profiler listening, every entry point costs one load of a global flag.

import Foundation

/// Receives scope and phase boundaries while a profiler is installed
/// (called on the thread that runs the ops; scopes nest like a stack).
public protocol ProfileScopeObserver: AnyObject {
    /// A scope named `name` (one path component, e.g. "blocks.0") opens now.
    func scopeBegan(_ name: String, kind: ProfileScope.Kind)
    /// The innermost open scope named `name` closes now (inner scopes left
    /// open inside it close with it).
    func scopeEnded(_ name: String, kind: ProfileScope.Kind)
}

/// A global stack of named scopes, reported to at most one observer.
///
/// `withScope("blocks.0") { … }` marks the ops run inside as belonging to
/// module `blocks.0`; `withPhase(.backward) { … }` marks a training phase.
/// `module(_:_:_:)` also marks the *backward* ops of the module by adding two
/// identity nodes to the autograd graph (only while a profiler is installed).
public enum ProfileScope {
    /// The kind of a scope.
    public enum Kind: String, Sendable {
        /// A module call: its name is a component of the module path.
        case module
        /// A training phase (forward, backward, optimizer).
        case phase
    }

    /// A phase of one training step.
    public enum Phase: String, Sendable, CaseIterable {
        case forward, backward, optimizer
    }

    @usableFromInline nonisolated(unsafe) static var isActive = false
    nonisolated(unsafe) static var observer: ProfileScopeObserver?

    /// True while an observer is installed.
    @inlinable public static var isProfiling: Bool { isActive }

    /// Installs `observer` (replacing any other) until `uninstall()`.
    public static func install(_ observer: ProfileScopeObserver) {
        self.observer = observer
        isActive = true
    }

    /// Removes the observer; scopes cost one flag load again.
    public static func uninstall() {
        isActive = false
        observer = nil
        openEnded = nil
    }

    /// Runs `body` inside the module scope `name` (evaluated only while profiling).
    @inlinable
    public static func withScope<R>(_ name: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
        if _fastPath(!isActive) { return try body() }
        return try scoped(name(), .module, body)
    }

    /// Runs `body` as training phase `phase`.
    @inlinable
    public static func withPhase<R>(_ phase: Phase, _ body: () throws -> R) rethrows -> R {
        if _fastPath(!isActive) { return try body() }
        return try scoped(phase.rawValue, .phase, body)
    }

    /// A backward module scope opened without an end marker (its module has
    /// no differentiable input); it closes at the next scope boundary.
    nonisolated(unsafe) static var openEnded: String?

    /// Forgets a backward module scope still waiting to close (observers call
    /// this at step boundaries, where they close every open scope themselves).
    public static func discardOpenScope() { openEnded = nil }

    static func closeOpenEnded() {
        if let name = openEnded { openEnded = nil; observer?.scopeEnded(name, kind: .module) }
    }

    @usableFromInline
    static func scoped<R>(_ name: String, _ kind: Kind, _ body: () throws -> R) rethrows -> R {
        closeOpenEnded()
        observer?.scopeBegan(name, kind: kind)
        defer { closeOpenEnded(); observer?.scopeEnded(name, kind: kind) }
        return try body()
    }

    /// y = body(x) inside module scope `name` (evaluated only while
    /// profiling). While profiling with autograd on, the module's backward ops
    /// are scoped too: an identity node after y opens the scope when its
    /// gradient arrives, and one before x (when x requires a gradient) closes
    /// it once every use of x inside the module has been differentiated.
    /// Without such an x the backward scope stays open until the next scope
    /// boundary. Values and gradients are unchanged.
    @inlinable
    public static func module(_ name: @autoclosure () -> String, _ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        if _fastPath(!isActive) { return body(x) }
        return markedModule(name(), x) { body($0!) }
    }

    /// y = body() inside module scope `name` for a module without a tensor
    /// input (an embedding lookup); its backward scope closes at the next
    /// scope boundary.
    @inlinable
    public static func module(_ name: @autoclosure () -> String, _ body: () -> Tensor) -> Tensor {
        if _fastPath(!isActive) { return body() }
        return markedModule(name(), nil) { _ in body() }
    }

    @usableFromInline
    static func markedModule(_ name: String, _ x: Tensor?, _ body: (Tensor?) -> Tensor) -> Tensor {
        let marking = Runtime.isGradEnabled
        var input = x
        var closes = false
        if marking, let x, x.requiresGrad {
            closes = true
            input = x.recorded("scope_exit", [x]) { g, _ in
                closeOpenEnded()
                observer?.scopeEnded(name, kind: .module)
                return [g]
            }
        }
        let y = scoped(name, .module) { body(input) }
        guard marking && y.requiresGrad else { return y }
        return y.recorded("scope_enter", [y]) { g, _ in
            closeOpenEnded()
            observer?.scopeBegan(name, kind: .module)
            if !closes { openEnded = name }
            return [g]
        }
    }
}
