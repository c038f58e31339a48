// A backend that counts GEMM calls and FLOPs (an ObservedBackend with a tally).

import Anneal

/// Forwards every kernel to `base`, counting GEMM calls and their FLOPs.
public final class CountingBackend: @unchecked Sendable {
    public let tally = KernelTally()
    public let backend: ObservedBackend
    public init(_ base: Backend) { backend = ObservedBackend(base, observer: tally) }
    public var gemmCalls: Int { tally.gemmCalls }
    public var gemmFlops: Int { tally.gemmFlops }
    public func reset() { tally.reset() }
}
