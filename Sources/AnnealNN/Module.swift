// Module and Parameter: layers hold Parameters and child Modules as stored
// properties; reflection finds them and names them with dotted keys exactly
// as PyTorch's state_dict does (`blocks.0.qkv.weight`).

import Anneal
import Foundation

/// A trainable tensor owned by a module. Its `value` is an autograd leaf
/// while trainable; a frozen parameter is a plain tensor, so no gradient and
/// no backward GEMM is ever computed for it.
public final class Parameter: @unchecked Sendable {
    /// The current value (a leaf requiring grad unless frozen).
    public private(set) var value: Tensor
    /// Frozen parameters get no gradient, no optimizer state and no update.
    public var isFrozen: Bool {
        didSet { if isFrozen != oldValue { value = isFrozen ? value.detached() : value.detached().requiringGrad() } }
    }

    /// A trainable parameter holding `value`.
    public init(_ value: Tensor, frozen: Bool = false) {
        isFrozen = frozen
        self.value = frozen ? value.detached() : value.detached().requiringGrad()
    }

    /// The accumulated gradient (nil if none or frozen).
    public var grad: Tensor? {
        get { value.grad }
        set { value.grad = newValue }
    }
    /// Shape of the value.
    public var shape: [Int] { value.shape }

    /// Replaces the values (same shape), keeping the trainable state; outside autograd.
    public func assign(_ newValue: Tensor) {
        require(newValue.shape == value.shape, "assigning shape \(newValue.shape) to a parameter of shape \(value.shape)")
        let trainable = !isFrozen
        value = trainable ? newValue.detached().requiringGrad() : newValue.detached()
    }

    /// Updates the values in place (as `param.data` in PyTorch), keeping the autograd leaf.
    public func withMutableValues<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try value.withUnsafeMutableBufferPointer(body)
    }
}

/// Base class of every layer and model.
///
/// Parameters and submodules are found by reflection over stored properties
/// (`Parameter`, `Parameter?`, `Module`, `Module?`, `[Module]`); array
/// elements are named by index. Subclasses override `children()` to rename
/// or flatten (as `Sequential` does).
open class Module: @unchecked Sendable {
    /// Training mode (dropout active) vs evaluation mode.
    public private(set) var isTraining = true

    public init() {}

    /// Direct children: `(name, Parameter or Module)` in declaration order.
    open func children() -> [(String, Any)] {
        var out: [(String, Any)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [[(String, Any)]] = []
        while let m = mirror {
            var level: [(String, Any)] = []
            for child in m.children {
                guard let label = child.label else { continue }
                let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
                if let p = child.value as? Parameter { level.append((name, p)) }
                else if let sub = child.value as? Module { level.append((name, sub)) }
                else if let list = child.value as? [Module] {
                    for (i, sub) in list.enumerated() { level.append(("\(name).\(i)", sub)) }
                }
            }
            levels.append(level)
            mirror = m.superclassMirror
        }
        for level in levels.reversed() { out += level }   // base-class properties first
        return out
    }

    /// Every parameter with its dotted name (shared parameters appear under each name).
    public func namedParameters() -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        for (name, child) in children() {
            if let p = child as? Parameter { out.append((name, p)) }
            else if let m = child as? Module { out += m.namedParameters().map { ("\(name).\($0.0)", $0.1) } }
        }
        return out
    }

    /// Unique parameters that are not frozen, with their first name.
    public func trainableParameters() -> [(String, Parameter)] {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().filter { !$0.1.isFrozen && seen.insert(ObjectIdentifier($0.1)).inserted }
    }

    /// Every submodule (this one first, as ""), with dotted names.
    public func namedModules() -> [(String, Module)] {
        var out: [(String, Module)] = [("", self)]
        for (name, child) in children() {
            if let m = child as? Module { out += m.namedModules().map { ($0.0.isEmpty ? name : "\(name).\($0.0)", $0.1) } }
        }
        return out
    }

    /// Sets training mode here and below.
    public func train(_ on: Bool = true) { for (_, m) in namedModules() { m.isTraining = on } }
    /// Sets evaluation mode here and below.
    public func eval() { train(false) }

    /// The values of every parameter by name (PyTorch's `state_dict()`).
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.0, $0.1.value.detached()) }, uniquingKeysWith: { a, _ in a })
    }

    /// Total number of parameter elements (shared parameters counted once).
    public var parameterCount: Int {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().reduce(0) { seen.insert(ObjectIdentifier($1.1)).inserted ? $0 + $1.1.value.count : $0 }
    }

    /// How `update(parameters:verify:)` checks names.
    public enum Verify: Sendable {
        /// Every parameter must be given and every given name must exist (PyTorch `strict=True`).
        case all
        /// Load what matches; report the rest (shape mismatches are still errors).
        case none
    }

    /// The outcome of a non-strict load.
    public struct LoadReport: Sendable, CustomStringConvertible {
        public var missing: [String] = []
        public var unexpected: [String] = []
        public var loaded: [String] = []
        public var description: String {
            "loaded \(loaded.count); missing: \(missing.isEmpty ? "none" : missing.joined(separator: ", ")); unexpected: \(unexpected.isEmpty ? "none" : unexpected.joined(separator: ", "))"
        }
    }

    /// Loads parameter values by dotted name. Shape mismatches are always an
    /// error; with `.all`, so are missing and unexpected names. The error
    /// lists every offending name.
    @discardableResult
    public func update(parameters: [String: Tensor], verify: Verify = .all) throws -> LoadReport {
        let own = namedParameters()
        let ownNames = Set(own.map(\.0))
        var report = LoadReport()
        var mismatched: [String] = []
        for (name, p) in own {
            guard let t = parameters[name] else { report.missing.append(name); continue }
            if t.shape != p.shape { mismatched.append("\(name): checkpoint \(t.shape) vs model \(p.shape)") }
        }
        report.unexpected = parameters.keys.filter { !ownNames.contains($0) }.sorted()
        if !mismatched.isEmpty || (verify == .all && (!report.missing.isEmpty || !report.unexpected.isEmpty)) {
            throw ModuleLoadError(missing: verify == .all ? report.missing : [], unexpected: verify == .all ? report.unexpected : [],
                                  shapeMismatches: mismatched)
        }
        for (name, p) in own { if let t = parameters[name] { p.assign(t); report.loaded.append(name) } }
        return report
    }

    /// Freezes every parameter whose dotted name matches one of `patterns`
    /// (globs: `*` any run, `?` one character, `[0-3]` a class); all when empty.
    /// Returns the names frozen.
    @discardableResult
    public func freeze(_ patterns: [String] = []) -> [String] { setFrozen(true, patterns) }

    /// Unfreezes matching parameters (all when `patterns` is empty).
    @discardableResult
    public func unfreeze(_ patterns: [String] = []) -> [String] { setFrozen(false, patterns) }

    func setFrozen(_ frozen: Bool, _ patterns: [String]) -> [String] {
        var names: [String] = []
        for (name, p) in namedParameters() where patterns.isEmpty || patterns.contains(where: { Glob.matches($0, name) }) {
            p.isFrozen = frozen
            names.append(name)
        }
        return names
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for (_, p) in namedParameters() { p.grad = nil } }
}

/// A state dict that does not fit the model: every offending name is listed.
public struct ModuleLoadError: Error, CustomStringConvertible {
    public let missing: [String], unexpected: [String], shapeMismatches: [String]
    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing keys: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected keys: \(unexpected.joined(separator: ", "))") }
        if !shapeMismatches.isEmpty { parts.append("shape mismatches: \(shapeMismatches.joined(separator: "; "))") }
        return "parameters do not fit the model: " + parts.joined(separator: "; ")
    }
}

/// Shell-style glob matching for dotted parameter names.
public enum Glob {
    /// True if `name` matches `pattern` (`*`, `?`, `[a-z]` / `[0-3]` classes; `[!…]` negates).
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        matchFrom(Array(pattern), 0, Array(name), 0)
    }

    static func matchFrom(_ p: [Character], _ pi: Int, _ s: [Character], _ si: Int) -> Bool {
        if pi == p.count { return si == s.count }
        switch p[pi] {
        case "*":
            for k in si...s.count where matchFrom(p, pi + 1, s, k) { return true }
            return false
        case "?":
            return si < s.count && matchFrom(p, pi + 1, s, si + 1)
        case "[":
            guard si < s.count, let close = p[(pi + 1)...].firstIndex(of: "]") else {
                return si < s.count && s[si] == "[" && matchFrom(p, pi + 1, s, si + 1)
            }
            var body = Array(p[(pi + 1)..<close])
            let negate = body.first == "!"
            if negate { body.removeFirst() }
            var hit = false, i = 0
            while i < body.count {
                if i + 2 < body.count && body[i + 1] == "-" {
                    if body[i] <= s[si] && s[si] <= body[i + 2] { hit = true }
                    i += 3
                } else { if body[i] == s[si] { hit = true }; i += 1 }
            }
            return hit != negate && matchFrom(p, close + 1, s, si + 1)
        default:
            return si < s.count && p[pi] == s[si] && matchFrom(p, pi + 1, s, si + 1)
        }
    }
}

/// A module mapping one tensor to another (for `Sequential`).
public protocol UnaryLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}
