// Storage: the reference-counted, 64-byte-aligned Float32 buffer behind every
// Tensor. Tensors share a Storage until one of them writes (copy-on-write).

import Foundation

/// A heap buffer of `count` Float32 values, aligned to 64 bytes.
///
/// `Storage` is a class so that tensor copies share it; `Tensor` checks
/// `isKnownUniquelyReferenced` before writing and copies if it is shared.
public final class Storage: @unchecked Sendable {
    /// First element.
    public let base: UnsafeMutablePointer<Float>
    /// Number of Float32 elements.
    public let count: Int

    /// Allocates uninitialised storage for `count` elements.
    @inlinable
    public init(uninitializedCount count: Int) {
        self.count = count
        var raw: UnsafeMutableRawPointer? = nil
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        if posix_memalign(&raw, 64, bytes) != 0 || raw == nil {
            fatalError("Anneal: cannot allocate \(bytes) bytes for a tensor")
        }
        self.base = raw!.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        MemoryStats.allocated(bytes: count * MemoryLayout<Float>.stride)
    }

    /// Allocates storage filled with `value`.
    @inlinable
    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    /// A copy of this buffer.
    @inlinable
    public func copy() -> Storage {
        let s = Storage(uninitializedCount: count)
        s.base.update(from: base, count: count)
        return s
    }

    deinit {
        MemoryStats.freed(bytes: count * MemoryLayout<Float>.stride)
        free(base)
    }
}

/// Live and peak bytes held by tensor storage in this process (for profiling).
public enum MemoryStats {
    @usableFromInline nonisolated(unsafe) static var live: Int = 0
    @usableFromInline nonisolated(unsafe) static var peak: Int = 0
    @usableFromInline nonisolated(unsafe) static var tracking = false

    /// Bytes of tensor storage alive now (counted only while tracking is on).
    public static var liveBytes: Int { live }
    /// Highest `liveBytes` since the last `resetPeak()`.
    public static var peakBytes: Int { peak }

    /// Starts counting storage bytes; counts are approximate if other threads allocate.
    public static func startTracking() { tracking = true; live = 0; peak = 0 }
    /// Stops counting.
    public static func stopTracking() { tracking = false }
    /// Sets the peak to the current live count.
    public static func resetPeak() { peak = live }

    @inlinable static func allocated(bytes: Int) {
        guard tracking else { return }
        live &+= bytes
        if live > peak { peak = live }
    }
    @inlinable static func freed(bytes: Int) {
        guard tracking else { return }
        live &-= bytes
    }
}
