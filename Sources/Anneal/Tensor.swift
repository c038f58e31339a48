// Tensor: a Float32 n-dimensional array with copy-on-write storage and an
// optional autograd node.

import Foundation

/// A row-major Float32 tensor.
///
/// Copies share storage until one of them is written (copy-on-write);
/// `reshaped` is a free view. A tensor that requires a gradient carries an
/// autograd `Node`: copies of it refer to the same node, so `grad` is shared.
public struct Tensor: @unchecked Sendable {
    /// Extents, outermost first; `[]` for a scalar.
    public let shape: [Int]
    @usableFromInline var storage: Storage
    @usableFromInline var node: Node?

    @inlinable init(shape: [Int], storage: Storage, node: Node? = nil) {
        require(storage.count == Shape.count(shape), "storage of \(storage.count) for shape \(shape)")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// An uninitialised tensor (callers fill every element).
    @inlinable init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: Storage(uninitializedCount: Shape.count(shape)))
    }

    /// A tensor holding `values` in row-major order; traps if the count does not match `shape`.
    public init(shape: [Int], _ values: [Float]) {
        require(values.count == Shape.count(shape),
                     "\(values.count) values do not fill shape \(shape) (\(Shape.count(shape)) elements)")
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A 1-D tensor of `values`.
    public init(_ values: [Float]) { self.init(shape: [values.count], values) }

    /// A scalar (shape `[]`).
    public init(_ scalar: Float) { self.init(shape: [], [scalar]) }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }
    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }
    /// The only element of a one-element tensor.
    public func item() -> Float {
        require(count == 1, "item() needs one element, shape is \(shape)")
        return storage.base[0]
    }

    /// Read access to the elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Write access to the elements; copies first if the storage is shared.
    /// Writing through this bypasses autograd (as `tensor.data` in PyTorch).
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// Pointer to the first element, for kernels (read only).
    @inlinable var ptr: UnsafePointer<Float> { UnsafePointer(storage.base) }

    // MARK: Creation

    /// All elements equal to `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(shape: shape, storage: Storage(repeating: value, count: Shape.count(shape)))
    }
    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    /// Zeros with the shape of `other`.
    public static func zeros(like other: Tensor) -> Tensor { full(other.shape, 0) }
    /// 0, 1, …, n−1 scaled: start + i·step for i < count.
    public static func arange(_ count: Int, start: Float = 0, step: Float = 1) -> Tensor {
        var t = Tensor(uninitializedShape: [count])
        for i in 0..<count { t.storage.base[i] = start + Float(i) * step }
        return t
    }
    /// Normal samples N(mean, std²) from `generator` (identical on every backend).
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1,
                             generator: inout RandomGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        generator.fillNormal(UnsafeMutableBufferPointer(start: t.storage.base, count: t.count), mean: mean, std: std)
        return t
    }
    /// Uniform samples in [low, high) from `generator`.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               generator: inout RandomGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.storage.base[i] = low + (high - low) * generator.nextFloat() }
        return t
    }
    /// Normal samples with a fixed seed.
    public static func randn(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return randn(shape, generator: &g)
    }
    /// Uniform [0, 1) samples with a fixed seed.
    public static func uniform(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return uniform(shape, generator: &g)
    }

    // MARK: Autograd handles

    /// True if this tensor is part of the autograd graph (a leaf that
    /// requires a gradient, or a result computed from one).
    @inlinable public var requiresGrad: Bool { node != nil }

    /// The accumulated gradient of a leaf (nil before any backward).
    public var grad: Tensor? {
        get { node?.grad }
        nonmutating set { node?.grad = newValue }
    }

    /// This tensor as a new autograd leaf that accumulates a gradient.
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, storage: storage, node: Node(leafShape: shape))
    }

    /// The same values, cut from the autograd graph.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// A copy that shares nothing with this tensor.
    public func copy() -> Tensor { Tensor(shape: shape, storage: storage.copy()) }

    /// True if both tensors use the same buffer (a view or an unmodified copy).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = count <= 16 ? scalars.map { String(format: "%.5g", $0) }.joined(separator: ", ")
                                : scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ") + ", …"
        return "Tensor(shape: \(shape), [\(shown)]\(requiresGrad ? ", requiresGrad" : ""))"
    }
}

extension Tensor {
    /// The first element (no bounds check beyond a non-empty tensor); for benchmarks and sinks.
    @inlinable public var storageFirst: Float { storage.base[0] }
}
