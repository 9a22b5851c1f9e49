// AdamW exactly as PyTorch's `torch.optim.AdamW` (single-tensor path): decoupled weight
// decay, then the bias-corrected Adam step, in float32 per element.
import Foundation

/// Optimizer settings (PyTorch defaults except lr).
public struct AdamWSettings: Sendable, Equatable {
    public var lr: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.01
    public init(lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// AdamW state for a list of parameter tensors.
public struct AdamW: Sendable {
    public var settings: AdamWSettings
    /// Steps taken so far.
    public var step = 0
    /// First and second moments, one array per parameter.
    public var m: [[Float]]
    public var v: [[Float]]

    public init(settings: AdamWSettings, shapes: [Int]) {
        self.settings = settings
        m = shapes.map { [Float](repeating: 0, count: $0) }
        v = shapes.map { [Float](repeating: 0, count: $0) }
    }

    /// One update of `params` with `grads`, at learning rate `lr` (for schedules; default the setting).
    public mutating func update(_ params: inout [Parameter], grads: [[Float]], lr: Float? = nil) {
        step += 1
        let s = settings, lr = lr ?? s.lr
        let bc1 = 1 - pow(Double(s.beta1), Double(step))
        let bc2 = 1 - pow(Double(s.beta2), Double(step))
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let decay = 1 - lr * s.weightDecay
        for k in params.indices {
            let g = grads[k]
            params[k].values.withUnsafeMutableBufferPointer { p in
                m[k].withUnsafeMutableBufferPointer { m in
                    v[k].withUnsafeMutableBufferPointer { v in
                        for i in 0..<p.count {
                            p[i] *= decay
                            m[i] += (g[i] - m[i]) * (1 - s.beta1)          // lerp toward g
                            v[i] = v[i] * s.beta2 + (1 - s.beta2) * g[i] * g[i]
                            let denom = v[i].squareRoot() / bc2Sqrt + s.eps
                            p[i] -= stepSize * (m[i] / denom)
                        }
                    }
                }
            }
        }
    }
}
