// A fast first stage for training the projector: fit it, without running the LLM, to map each
// image to a target embedding for its label, then fine-tune end to end through the frozen
// model (Trainer). The target for digit D is the frozen model's own input embedding of the
// token "D": a point in embedding space the model already reads as that digit. Fitting an
// MLP to 10 fixed targets is an ordinary regression that runs thousands of images per second.
import Foundation

/// Settings of the regression stage.
public struct DistillationOptions: Sendable, Equatable {
    public var epochs = 20
    public var batch = 64
    public var lr: Float = 1e-3
    public var shift = 1
    public var seed: UInt64 = 0
    public init() {}
}

public enum Distillation {
    /// The target embedding of each digit 0…9: the model's input embedding of that digit's token.
    public static func targets(model: LlamaModel, prompt: MultimodalPrompt) -> [[Float]] {
        (0..<10).map { d in prompt.digitTokenID(d).map { model.embed([$0]) } ?? [Float](repeating: 0, count: model.config.dim) }
    }

    /// Fits `projector` by mean squared error to `targets[label]` over `images` (seeded
    /// shuffles and shifts, AdamW). Returns the mean loss of each epoch; `onEpoch` sees it live.
    public static func fit(_ projector: inout Projector, images: [DigitImage], targets: [[Float]],
                           options o: DistillationOptions, onEpoch: (Int, Float) -> Void = { _, _ in }) throws -> [Float] {
        let d = projector.outputSize
        var opt = AdamW(settings: AdamWSettings(lr: o.lr, weightDecay: 0.01), shapes: projector.parameters.map { $0.values.count })
        var rng = SeededRandom(seed: o.seed ^ 0xD157_111A)
        let labelled = images.filter { $0.label != nil }
        var losses: [Float] = []
        let totalSteps = o.epochs * ((labelled.count + o.batch - 1) / o.batch)
        var step = 0
        for epoch in 0..<o.epochs {
            var order = Array(labelled.indices)
            MNIST.seededShuffle(&order, using: &rng)
            var sum: Double = 0
            var start = 0
            while start < order.count {
                try Interrupt.check()
                let idx = order[start..<min(order.count, start + o.batch)]
                start += idx.count
                let batch = idx.map { i -> DigitImage in
                    let img = labelled[i]
                    guard o.shift > 0 else { return img }
                    let span = UInt64(2 * o.shift + 1)
                    return img.shifted(dx: Int(rng.next() % span) - o.shift, dy: Int(rng.next() % span) - o.shift)
                }
                let (e, saved) = projector.forward(batch.flatMap { $0.normalized() })
                var dE = [Float](repeating: 0, count: e.count)
                let scale = 2 / Float(batch.count * d)
                for (b, img) in batch.enumerated() {
                    let t = targets[img.label!]
                    for j in 0..<d {
                        let diff = e[b * d + j] - t[j]
                        sum += Double(diff * diff) / Double(d)
                        dE[b * d + j] = scale * diff
                    }
                }
                // cosine decay over the whole stage keeps the last epochs from jittering
                let lr = o.lr * Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(max(1, totalSteps)))))
                var params = projector.parameters
                opt.update(&params, grads: projector.backward(dE, saved: saved), lr: lr)
                projector.parameters = params
                step += 1
            }
            let mean = Float(sum / Double(order.count))
            losses.append(mean)
            onEpoch(epoch + 1, mean)
        }
        return losses
    }
}
