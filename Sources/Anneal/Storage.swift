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
        let raw = BufferPool.shared.allocate(bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
        self.base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
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
        BufferPool.shared.release(UnsafeMutableRawPointer(base), bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
    }
}

/// A cache of freed large tensor buffers, keyed by size, so a training loop
/// that makes the same shapes every step reuses its buffers instead of
/// mapping fresh pages from the kernel (glibc serves large blocks with mmap,
/// and the first touch of each 4 KiB page then faults: 10⁵ faults per GPT
/// step, ~15 % of its time, before this pool).
///
/// Buffers of at least `minimumBytes` are rounded up to a whole number of
/// pages and, when freed, kept for the next request of the same rounded size
/// (a reused buffer is not zeroed, like `malloc`'s). At most `limitBytes` are
/// kept; beyond that cached buffers (of any size) are freed to make room. The limit is
/// `ANNEAL_POOL_BYTES` (0 turns the pool off), else an eighth of physical
/// memory capped at 4 GiB. Smaller buffers go straight to `posix_memalign`.
public final class BufferPool: @unchecked Sendable {
    /// The process-wide pool behind every `Storage`.
    public static let shared = BufferPool(limitBytes: defaultLimit)

    /// Requests below this size bypass the pool.
    public static let minimumBytes = 64 << 10
    static let page = 4096

    static var defaultLimit: Int {
        if let s = ProcessInfo.processInfo.environment["ANNEAL_POOL_BYTES"], let n = Int(s), n >= 0 { return n }
        return Swift.min(Int(ProcessInfo.processInfo.physicalMemory / 8), 4 << 30)
    }

    private let lock = NSLock()
    private var buckets: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cached = 0
    private var limit: Int

    /// A pool that keeps at most `limitBytes` of freed buffers.
    public init(limitBytes: Int) { limit = Swift.max(0, limitBytes) }

    /// Bytes held in the pool now (freed buffers awaiting reuse).
    public var cachedBytes: Int { lock.withLock { cached } }

    /// The most the pool keeps; lowering it frees buffers at once.
    public var limitBytes: Int {
        get { lock.withLock { limit } }
        set {
            let dropped: [UnsafeMutableRawPointer] = lock.withLock {
                limit = Swift.max(0, newValue)
                return evict(toFit: 0)
            }
            dropped.forEach { Foundation.free($0) }
        }
    }

    /// Returns every cached buffer to the system allocator.
    public func trim() {
        let dropped: [UnsafeMutableRawPointer] = lock.withLock {
            let all = buckets.values.flatMap { $0 }
            buckets.removeAll(keepingCapacity: false)
            cached = 0
            return all
        }
        dropped.forEach { Foundation.free($0) }
    }

    /// The size a request of `bytes` occupies: whole pages when pooled.
    @inline(__always)
    static func rounded(_ bytes: Int) -> Int {
        bytes < minimumBytes ? bytes : (bytes + page - 1) / page * page
    }

    /// A 64-byte-aligned buffer of at least `bytes` bytes (uninitialised).
    public func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = Self.rounded(bytes)
        if size >= Self.minimumBytes {
            let hit: UnsafeMutableRawPointer? = lock.withLock {
                guard let p = buckets[size]?.popLast() else { return nil }
                cached -= size
                return p
            }
            if let hit { return hit }
        }
        var raw: UnsafeMutableRawPointer? = nil
        if posix_memalign(&raw, 64, size) != 0 || raw == nil {
            trim()
            if posix_memalign(&raw, 64, size) != 0 || raw == nil {
                fatalError("Anneal: cannot allocate \(size) bytes for a tensor")
            }
        }
        return raw!
    }

    /// Gives back a buffer from `allocate(bytes:)` with the same `bytes`.
    public func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.rounded(bytes)
        guard size >= Self.minimumBytes else { Foundation.free(p); return }
        let dropped: [UnsafeMutableRawPointer] = lock.withLock {
            guard size <= limit else { return [p] }
            var out = evict(toFit: size)
            if cached + size <= limit {
                buckets[size, default: []].append(p)
                cached += size
            } else {
                out.append(p)
            }
            return out
        }
        dropped.forEach { Foundation.free($0) }
    }

    /// Removes cached buffers (called under the lock) until `extra` more bytes fit; returns them to free.
    private func evict(toFit extra: Int) -> [UnsafeMutableRawPointer] {
        var out: [UnsafeMutableRawPointer] = []
        while cached + extra > limit, let key = buckets.first(where: { !$0.value.isEmpty })?.key {
            let p = buckets[key]!.removeLast()
            if buckets[key]!.isEmpty { buckets[key] = nil }
            cached -= key
            out.append(p)
        }
        return out
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
