// Learning-rate schedules: constant, linear warm-up + cosine decay, step decay.

import Foundation

/// A learning rate as a function of the 0-based step.
public enum LearningRateSchedule: Sendable, Equatable {
    /// η at every step.
    case constant(Float)
    /// Linear warm-up η·s/warmup for s < warmup (0 at the first step, as
    /// HF's `get_cosine_schedule_with_warmup`), then cosine decay to `minimum`
    /// at `total`: η_min + ½(η − η_min)(1 + cos(π·(s − warmup)/(total − warmup))).
    case warmupCosine(peak: Float, warmup: Int, total: Int, minimum: Float)
    /// η·γ^⌊step/size⌋ (torch's StepLR).
    case step(initial: Float, size: Int, gamma: Float)

    /// The learning rate for `step` (0-based).
    public func rate(at step: Int) -> Float {
        switch self {
        case .constant(let lr): return lr
        case let .warmupCosine(peak, warmup, total, minimum):
            if step < warmup { return peak * Float(step) / Float(warmup) }
            let span = Swift.max(total - warmup, 1)
            let progress = Swift.min(Float(step - warmup) / Float(span), 1)
            return minimum + 0.5 * (peak - minimum) * (1 + Foundation.cos(Float.pi * progress))
        case let .step(initial, size, gamma):
            return initial * Foundation.pow(gamma, Float(step / Swift.max(size, 1)))
        }
    }
}
