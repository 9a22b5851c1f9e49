// Training the projector against the frozen Llama, as the seed does: for each step, the
// image embeddings of a batch go through the prompt, the loss is the mean cross-entropy of
// the answer tokens, and the gradient flows back through every layer to the projector only.
//
// Work the recipe skips: the prompt text before `<image>` is identical for every example,
// so its keys/values are computed once and reused, and no gradient flows into it.
import Foundation

/// Learning-rate schedule over the run.
public enum LRSchedule: String, Sendable, CaseIterable {
    /// The seed's constant rate.
    case constant
    /// Linear warm-up over the first 5% of steps, then cosine decay to 10% of the rate.
    case cosine

    func rate(_ base: Float, step: Int, total: Int) -> Float {
        switch self {
        case .constant: return base
        case .cosine:
            let warm = max(1, total / 20)
            if step < warm { return base * Float(step + 1) / Float(warm) }
            let t = Double(step - warm) / Double(max(1, total - warm))
            return base * Float(0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * min(1, t))))
        }
    }
}

/// Everything that defines a training run.
public struct TrainingOptions: Sendable, Equatable {
    public var steps = 1000
    public var batch = 1
    public var optimizer = AdamWSettings()
    public var schedule = LRSchedule.constant
    public var seed: UInt64 = 0
    /// Random shifts of up to this many pixels (0 = none, the seed).
    public var shift = 0
    /// Initialization and data order drawn as PyTorch draws them (see TorchRandom.swift).
    public var torchRandom = false
    public init() {}
}

/// What one step did.
public struct StepReport: Sendable {
    public let step: Int          // 1-based, counting resumed steps
    public let loss: Float
    public let lr: Float
    public let seconds: Double
}

/// A training run in progress; the REPL keeps one alive between `train` commands.
public final class Trainer: @unchecked Sendable {
    public let model: LlamaModel
    public let prompt: MultimodalPrompt
    public private(set) var projector: Projector
    public private(set) var optimizer: AdamW
    public let options: TrainingOptions
    public let data: MNISTSet
    /// Indices of `data` in training order (one pass; repeated if steps × batch exceed it).
    public let order: [Int]
    /// Steps completed (including those before a resume).
    public private(set) var stepsDone = 0
    public private(set) var losses: [Float] = []
    private let prefixCache: KVCache
    /// The model's 4-bit matrices repacked for a step's few rows (see PanelGemm.swift), built
    /// at the first step and dropped by `releasePanels()`. Only the steps use them: the prefix
    /// above is computed without, so a resumed run's prefix is the same as the original's.
    private var panels: PanelPacks?

    public init(model: LlamaModel, prompt: MultimodalPrompt, projector: Projector, data: MNISTSet, order: [Int],
                options: TrainingOptions, optimizer: AdamW? = nil, stepsDone: Int = 0) throws {
        precondition(!order.isEmpty, "empty training order")
        self.model = model
        self.prompt = prompt
        self.projector = projector
        self.data = data
        self.order = order
        self.options = options
        self.optimizer = optimizer ?? AdamW(settings: options.optimizer, shapes: projector.parameters.map { $0.values.count })
        self.stepsDone = stepsDone
        prefixCache = KVCache(config: model.config, capacity: prompt.prefixIDs.count + options.batch * (prompt.suffixIDs.count + 16))
        _ = try model.forward(model.embed(prompt.prefixIDs), cache: prefixCache, logitRows: [])
    }

    /// Frees the repacked weights (~80 MB for SmolLM2) until the next step, so that an
    /// evaluation's batches do not add their memory to it.
    public func releasePanels() { panels = nil }

    /// Images of training step `step` (0-based), with augmentation drawn from (seed, step)
    /// so a resumed run sees exactly what an uninterrupted one would.
    public func batch(forStep step: Int) -> [DigitImage] {
        var rng = SeededRandom(seed: options.seed &+ 0x5851_F42D &* UInt64(step + 1))
        return (0..<options.batch).map { b in
            let img = data.images[order[(step * options.batch + b) % order.count]]
            return options.shift > 0 ? img.shifted(dx: Int(rng.next() % UInt64(2 * options.shift + 1)) - options.shift,
                                                   dy: Int(rng.next() % UInt64(2 * options.shift + 1)) - options.shift) : img
        }
    }

    /// Mean loss over `images` and the projector gradients (the `loss`/`grad` commands use it too).
    /// All examples run as one batch after the shared prefix: one set of matrix products.
    public func lossAndGradients(_ images: [DigitImage]) throws -> (loss: Float, perExample: [Float], grads: [[Float]], dEmbeddings: [Float]) {
        let packs = panels ?? PanelPacks(model.weights.matrices)
        panels = packs
        let x = images.flatMap { $0.normalized() }
        let (e, saved) = projector.forward(x)
        let d = model.config.dim, vocab = model.config.vocabSize
        let answers = images.map { prompt.answerIDs(label: $0.label ?? 0) }
        // rows of example b: [e_b, suffix, answer_b without its last token] (the last answer
        // token is only a target: no logit is read after it); logits where each answer token
        // is predicted
        var rows: [Float] = [], logitRows: [Int] = [], lengths: [Int] = []
        for (b, answer) in answers.enumerated() {
            let base = lengths.reduce(0, +)
            rows += prompt.rowsAfterPrefix(model: model, image: Array(e[(b * d)..<((b + 1) * d)]), answer: Array(answer.dropLast()))
            logitRows += prompt.answerLogitRows(answerCount: answer.count).map { base + $0 }
            lengths.append(1 + prompt.suffixIDs.count + answer.count - 1)
        }
        let prefix = prompt.prefixIDs.count
        prefixCache.truncate(to: prefix)
        let layout = RowLayout.batch(prefix: prefix, stride: lengths.max()!, done: lengths.map { _ in 0 }, new: lengths)
        let tape = ForwardTape()
        let logits = try packs.use {
            try model.forward(rows, cache: prefixCache, layout: layout, logitRows: logitRows, tape: tape, interruptible: false)
        }
        // the batch loss is the mean of per-example losses
        var losses: [Float] = [], dLogits: [Float] = []
        var offset = 0
        for answer in answers {
            let k = answer.count
            let (loss, dl) = crossEntropy(logits: Array(logits[(offset * vocab)..<((offset + k) * vocab)]), targets: answer, vocab: vocab)
            losses.append(loss)
            dLogits += dl.map { $0 / Float(answers.count) }
            offset += k
        }
        let dx = try model.backward(tape: tape, dLogits: dLogits, cache: prefixCache)
        prefixCache.truncate(to: prefix)
        var dE = [Float](repeating: 0, count: e.count)
        var start = 0
        for b in 0..<answers.count {
            dE[(b * d)..<((b + 1) * d)] = dx[(start * d)..<((start + 1) * d)]
            start += lengths[b]
        }
        return (losses.reduce(0, +) / Float(losses.count), losses, projector.backward(dE, saved: saved), dE)
    }

    /// One optimizer step on the next batch.
    @discardableResult
    public func step() throws -> StepReport {
        let t0 = Clock.now()
        let (loss, _, grads, _) = try lossAndGradients(batch(forStep: stepsDone))
        let lr = options.schedule.rate(options.optimizer.lr, step: stepsDone, total: options.steps)
        var params = projector.parameters
        optimizer.update(&params, grads: grads, lr: lr)
        projector.parameters = params
        stepsDone += 1
        losses.append(loss)
        return StepReport(step: stepsDone, loss: loss, lr: lr, seconds: Clock.now() - t0)
    }

    /// Runs until `options.steps` steps are done, `count` more steps have run, or Ctrl-C:
    /// an interrupt is honoured between steps, so the projector always holds whole steps.
    /// Returns whether it was interrupted. `onStep` may throw (a failed checkpoint save): the
    /// run stops there, after a whole step.
    @discardableResult
    public func run(count: Int? = nil, onStep: (StepReport) throws -> Void) throws -> Bool {
        let target = min(options.steps, stepsDone + (count ?? options.steps))
        while stepsDone < target {
            if Interrupt.isRequested { Interrupt.clear(); return true }
            try onStep(try step())
        }
        return false
    }
}

extension DigitImage {
    /// The image moved by (dx, dy) pixels, filling with background.
    public func shifted(dx: Int, dy: Int) -> DigitImage {
        if dx == 0 && dy == 0 { return self }
        var out = [UInt8](repeating: 0, count: 784)
        for y in 0..<28 { for x in 0..<28 {
            let sx = x - dx, sy = y - dy
            if sx >= 0 && sx < 28 && sy >= 0 && sy < 28 { out[y * 28 + x] = pixels[sy * 28 + sx] }
        }}
        return DigitImage(pixels: out, label: label)
    }
}
