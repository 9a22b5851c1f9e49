// `gradcheck [img=N] [eps=X] [count=K]`: the backward pass checked against finite
// differences, as a lesson. For a few parameters θ of the projector's (first) layer, the
// central difference (L(θ+ε) − L(θ−ε)) / 2ε, computed with forward passes only, should match
// the analytic dL/dθ that `grad` and training use.
//
// Which parameters: the entry b[i] with the largest |dL/db|, then entries W[i,j] of the same
// row, the pixel with the largest |x_j| first, then seeded random pixels. One row makes the
// chain rule visible in the table (dL/dW[i,j] = dL/db[i] · x_j), and a row with a large
// gradient keeps the loss change well above float32's rounding noise, so the check can
// actually tell a right gradient from a wrong one.
import Foundation
import Llava

extension Interpreter {
    /// ε of `gradcheck`: the loss is float32 through 30 layers, with rounding noise of a few
    /// 1e-6; a central difference divides that noise by 2ε (measured on image 3 with a fresh
    /// projector: ε = 1e-3 leaves errors up to 5%, 1e-2 about 0.3%), while its truncation
    /// error grows like ε² times the third derivative, still negligible at 1e-2 (0.1 gave
    /// even smaller errors there: the loss is nearly quadratic at that scale).
    static let defaultGradCheckEpsilon = 1e-2
    /// Most parameters `gradcheck` compares.
    static let maxGradCheckCount = 20

    /// One compared parameter.
    struct GradCheckRow {
        /// `b[12]`, `W[12,406]` (`b1`, `W1` for an MLP's first layer).
        var name: String
        /// ∂e_i/∂θ: 1 for a bias entry, the normalized pixel x_j for a weight entry.
        var slope: Float
        var analytic: Double
        var numeric: Double
        var relativeError: Double { Self.relativeError(analytic, numeric) }

        /// |a − n| / max(|a|, |n|): scale-free, 0 when both are 0.
        static func relativeError(_ a: Double, _ n: Double) -> Double {
            let scale = max(abs(a), abs(n))
            return scale == 0 ? 0 : abs(a - n) / scale
        }
    }

    /// Computes the comparison without printing (the command and the tests share it).
    func gradCheckRows(image index: Int?, epsilon: Double, count: Int) throws -> (image: Int, loss: Float, rows: [GradCheckRow]) {
        let i = gradientImage(index)
        let r = try session.lossAndGradients(image: i)
        let projector = try session.currentProjector()
        let x = r.image.normalized()
        let n = Projector.inputSize
        let (gW, gb) = (r.grads[0], r.grads[1])
        let (wName, bName) = projector.kind == .linear ? ("W", "b") : ("W1", "b1")

        // The entries: b[row], then W[row, j] for the strongest pixel and seeded random ones.
        let row = gb.indices.max { abs(gb[$0]) < abs(gb[$1]) }!
        var pixels = [x.indices.max { abs(x[$0]) < abs(x[$1]) }!]
        var rng = SeededRandom(seed: UInt64(truncatingIfNeeded: session.int(.seed)) &+ UInt64(i))
        while pixels.count < min(count - 1, n) {
            let j = Int(rng.next() % UInt64(n))
            if !pixels.contains(j) { pixels.append(j) }
        }
        var entries = [(parameter: 1, index: row, name: "\(bName)[\(row)]", slope: Float(1), analytic: gb[row])]
        for j in pixels.prefix(count - 1) {
            entries.append((0, row * n + j, "\(wName)[\(row),\(j)]", x[j], gW[row * n + j]))
        }

        // The perturbed projector is a local copy: the session's projector is never touched,
        // and each entry is put back before the next is moved.
        var probe = projector
        let lossOf = try forwardLoss(image: r.image)
        var rows: [GradCheckRow] = []
        for entry in entries {
            let original = probe.parameters[entry.parameter].values[entry.index]
            defer { probe.parameters[entry.parameter].values[entry.index] = original }
            // θ ± ε rounded to float32: divide by the step actually taken, not by 2ε.
            let up = original + Float(epsilon), down = original - Float(epsilon)
            probe.parameters[entry.parameter].values[entry.index] = up
            let lossUp = try lossOf(probe)
            probe.parameters[entry.parameter].values[entry.index] = down
            let lossDown = try lossOf(probe)
            let numeric = (Double(lossUp) - Double(lossDown)) / (Double(up) - Double(down))
            rows.append(GradCheckRow(name: entry.name, slope: entry.slope, analytic: Double(entry.analytic), numeric: numeric))
        }
        return (i, r.loss, rows)
    }

    /// L(projector) for one image with forward passes only: the prompt's prefix is run once
    /// into a cache, then each call runs [e, suffix, answer] after it and scores the answer
    /// tokens with the same cross-entropy as training.
    func forwardLoss(image: DigitImage) throws -> (Projector) throws -> Float {
        let model = try session.model().model
        let prompt = try session.prompt()
        let answer = prompt.answerIDs(label: image.label!)
        let x = image.normalized()
        let cache = KVCache(config: model.config, capacity: prompt.prefixIDs.count + prompt.suffixIDs.count + answer.count + 1)
        _ = try model.forward(model.embed(prompt.prefixIDs), cache: cache, logitRows: [])
        let prefix = cache.count
        return { projector in
            cache.truncate(to: prefix)
            let e = projector.forward(x).embeddings
            let logits = try model.forward(prompt.rowsAfterPrefix(model: model, image: e, answer: answer), cache: cache,
                                           logitRows: prompt.answerLogitRows(answerCount: answer.count))
            return crossEntropy(logits: logits, targets: answer, vocab: model.config.vocabSize).loss
        }
    }

    func gradCheck(image index: Int?, epsilon: Double, count: Int) throws {
        let (i, loss, rows) = try gradCheckRows(image: index, epsilon: epsilon, count: count)
        let label = try session.image(.index(i)).label!
        func sci(_ v: Double) -> String { String(format: "%+.4e", v) }
        let tableText = table(headers: ["parameter", "∂e/∂θ", "analytic dL/dθ", "numeric", "rel. error"],
                          rows: rows.map { [$0.name, formatFixed(Double($0.slope), 4), sci($0.analytic), sci($0.numeric),
                                            String(format: "%.1e", $0.relativeError)] },
                          alignments: [.left, .right, .right, .right, .right])
        let worst = rows.map(\.relativeError).max() ?? 0
        let verdict = worst < 1e-2 ? "the backward pass agrees with finite differences"
            : worst < 1e-1 ? "close: float32 noise or curvature, try another eps="
            : "the backward pass and finite differences DISAGREE"
        var lines = ["img \(i) (label \(label)): loss \(formatFixed(Double(loss), 4)), projector \(session.projectorOrigin),"
                     + " central differences with ε = \(epsilon)"]
        lines.append(tableText.hasSuffix("\n") ? String(tableText.dropLast()) : tableText)
        lines.append("max relative error \(String(format: "%.1e", worst)) over \(rows.count) parameters: \(verdict)")
        display.line(lines.joined(separator: "\n"))
    }
}
