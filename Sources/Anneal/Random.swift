// A seeded pseudo-random generator that gives the same numbers on every
// backend, platform and run: xoshiro256** seeded through SplitMix64.

import Foundation

/// xoshiro256** (Blackman & Vigna), seeded by SplitMix64. Uniform floats use
/// the top 24 bits; normals use Box–Muller. The state is plain data, so a
/// checkpoint can save and restore it exactly.
public struct RandomGenerator: Sendable, Codable, Equatable {
    /// The four 64-bit words of xoshiro256** state.
    public var state: [UInt64]

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) {
        var z = seed
        func splitMix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        state = [splitMix(), splitMix(), splitMix(), splitMix()]
    }

    /// Next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]; state[3] ^= state[1]; state[1] ^= state[2]; state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    @inlinable func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 bits of resolution.
    @inlinable public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform integer in [0, n).
    public mutating func nextInt(_ n: Int) -> Int {
        require(n > 0, "nextInt needs a positive bound, got \(n)")
        return Int(next() % UInt64(n))
    }

    /// Standard normal values by Box–Muller (pairs; computed in Double).
    public mutating func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        var i = 0
        while i < out.count {
            let u1 = (Double(next() >> 11) + 1) * 0x1p-53      // (0, 1]
            let u2 = Double(next() >> 11) * 0x1p-53
            let r = (-2 * Foundation.log(u1)).squareRoot()
            out[i] = mean + std * Float(r * Foundation.cos(2 * .pi * u2))
            if i + 1 < out.count { out[i + 1] = mean + std * Float(r * Foundation.sin(2 * .pi * u2)) }
            i += 2
        }
    }

    /// Fisher–Yates shuffle of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(i + 1)) }
        }
        return p
    }
}

/// The generator used by layer initialisers and dropout when no generator is
/// passed. It is per thread (a training loop runs on one thread, so it acts as
/// the process's generator there, while tests running in parallel cannot race
/// on it). Seed it with `seed(_:)` for reproducible runs; training
/// checkpoints save and restore its state.
public enum GlobalRandom {
    final class Box { var generator = RandomGenerator(seed: 0) }

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<Box>.fromOpaque(pointer).release() }
        }
        return key
    }()

    static var box: Box {
        if let p = pthread_getspecific(key) { return Unmanaged<Box>.fromOpaque(p).takeUnretainedValue() }
        let b = Box()
        pthread_setspecific(key, Unmanaged.passRetained(b).toOpaque())
        return b
    }

    /// This thread's generator.
    public static var generator: RandomGenerator {
        get { box.generator }
        set { box.generator = newValue }
    }

    /// Restarts this thread's stream from `seed`.
    public static func seed(_ seed: UInt64) { box.generator = RandomGenerator(seed: seed) }
}
