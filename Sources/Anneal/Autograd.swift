// Reverse-mode autograd: each op that has an input requiring a gradient
// records a Node with its pullback; `backward()` walks the graph once in
// reverse topological order, accumulates gradients into leaves, and frees
// the graph as it goes.

import Foundation

/// A vector-Jacobian product: given ∂L/∂output and which inputs need a
/// gradient, returns ∂L/∂input for each input (nil where not needed).
public typealias Pullback = (_ gradOutput: Tensor, _ needs: [Bool]) -> [Tensor?]

/// One vertex of the autograd graph.
public final class Node: @unchecked Sendable {
    /// The op that produced the tensor ("leaf" for leaves).
    public let op: String
    /// Parent nodes, one per op input (nil: that input needs no gradient).
    var inputs: [Node?]
    var pullback: Pullback?
    /// The accumulated gradient (kept for leaves; transient for interior nodes).
    public var grad: Tensor?
    let shape: [Int]
    let isLeaf: Bool

    init(leafShape: [Int]) {
        op = "leaf"; inputs = []; pullback = nil; shape = leafShape; isLeaf = true
    }

    init(op: String, inputs: [Node?], shape: [Int], pullback: @escaping Pullback) {
        self.op = op; self.inputs = inputs; self.shape = shape; self.pullback = pullback; isLeaf = false
    }

    /// grad += g (g's storage is shared, not copied, when grad was empty).
    func accumulate(_ g: Tensor) {
        require(g.shape == shape, "gradient of shape \(g.shape) for a tensor of shape \(shape)")
        if var acc = grad {
            grad = nil          // make the buffer uniquely referenced so the add is in place
            acc.addInPlace(g)
            grad = acc
        } else {
            grad = g.detached()
        }
    }
}

extension Tensor {
    /// Attaches `pullback` to `self` (an op's fresh output) if recording is on
    /// and any of `inputs` requires a gradient. Every op calls this once,
    /// right after computing its forward value; the pullback is the op's derivative.
    public func recorded(_ op: String, _ inputs: [Tensor], _ pullback: @escaping Pullback) -> Tensor {
        var out = self
        out.node = Node(op: op, inputs: inputs.map { $0.node }, shape: shape, pullback: pullback)
        return out
    }

    /// True when an op on these inputs must record a graph node.
    public static func needsGraph(_ a: Tensor, _ b: Tensor? = nil, _ c: Tensor? = nil) -> Bool {
        (a.node != nil || b?.node != nil || c?.node != nil) && Runtime.isGradEnabled
    }

    /// Back-propagates from this tensor: leaves' `grad` accumulate ∂self/∂leaf · seed.
    ///
    /// `seed` defaults to 1 for a one-element tensor; other shapes need one.
    /// The graph below `self` is freed afterwards (call backward once per forward).
    public func backward(_ seed: Tensor? = nil) {
        guard let root = node else {
            fatalError("backward() on a tensor that does not require grad (shape \(shape))")
        }
        let g0: Tensor
        if let seed {
            require(seed.shape == shape, "backward seed of shape \(seed.shape) for output of shape \(shape)")
            g0 = seed
        } else {
            require(count == 1, "backward() without a seed needs a one-element output, shape is \(shape)")
            g0 = Tensor.full(shape, 1)
        }
        // Iterative DFS post-order gives a topological order (inputs before outputs).
        var order: [Node] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Node, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (n, i) = stack.popLast() {
            if i < n.inputs.count {
                stack.append((n, i + 1))
                if let p = n.inputs[i], !p.isLeaf, visited.insert(ObjectIdentifier(p)).inserted {
                    stack.append((p, 0))
                }
            } else {
                order.append(n)
            }
        }
        root.accumulate(g0)
        Runtime.withNoGrad {
            for n in order.reversed() {
                guard let pullback = n.pullback, let g = n.grad else { continue }
                let needs = n.inputs.map { $0 != nil }
                let grads = pullback(g, needs)
                for (p, gi) in zip(n.inputs, grads) {
                    if let p, let gi { p.accumulate(gi) }
                }
                // Free this part of the graph: saved tensors go with the closure.
                n.pullback = nil
                n.inputs = []
                n.grad = nil
            }
        }
    }

    /// Sums a gradient of a broadcast result back to `shape` (the one place
    /// broadcasting is undone).
    public func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        var g = self
        let lead = g.rank - target.count
        for _ in 0..<lead { g = g.sum(axis: 0) }
        for (axis, d) in target.enumerated() where d == 1 && g.shape[axis] != 1 {
            g = g.sum(axis: axis, keepDim: true)
        }
        return g.shape == target ? g : g.reshaped(target)
    }
}
