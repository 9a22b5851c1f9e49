// The backward pass: dL/d(input embedding) against PyTorch on SmolLM2 (the multimodal
// recipe with a given image embedding), and against finite differences on the tiny random
// Llama 3 in both weight layouts, with and without a cached prefix.
import XCTest
@testable import LlamaKit

final class LlamaBackwardTests: XCTestCase {
    /// Loss and dL/de for one example: prefix cached, then [e, suffix, answer] with a tape.
    func lossAndGradient(_ model: LlamaModel, prefix: [Int], image: [Float], suffix: [Int], answer: [Int]) throws -> (Float, [Float]) {
        let cache = KVCache(config: model.config)
        _ = try model.forward(model.embed(prefix), cache: cache, logitRows: [])
        let rows = image + model.embed(suffix + answer)
        // logits at the row before each answer token predict it
        let logitRows = (0..<answer.count).map { suffix.count + $0 }
        let tape = ForwardTape()
        let logits = try model.forward(rows, cache: cache, logitRows: logitRows, tape: tape)
        let (loss, dLogits) = crossEntropy(logits: logits, targets: answer, vocab: model.config.vocabSize)
        let dx = try model.backward(tape: tape, dLogits: dLogits, cache: cache)
        return (loss, Array(dx[0..<model.config.dim]))
    }

    func testSmolLM2ImageEmbeddingGradient() throws {
        let model = try Fixtures.smolLM2().model
        let g = try Fixtures.json("multimodal/multimodal_golden.json")
        let prefix = g["prefix_ids"] as! [Int], suffix = g["suffix_ids"] as! [Int]
        for c in g["cases"] as! [[String: Any]] {
            let name = c["name"] as! String
            let answers = c["answer_ids"] as! [[Int]]
            let e = try Fixtures.npy("multimodal/\(name)_image_embedding.npy").values
            let ref = try Fixtures.npy("multimodal/\(name)_dL_dimage_embedding.npy").values
            let perExample = c["per_example_loss"] as! [Double]
            for (i, answer) in answers.enumerated() {
                let row = Array(e[(i * 576)..<((i + 1) * 576)])
                let (loss, de) = try lossAndGradient(model, prefix: prefix, image: row, suffix: suffix, answer: answer)
                XCTAssertEqual(Double(loss), perExample[i], accuracy: perExample[i] * 1e-4, "\(name)[\(i)] loss")
                // the golden rows are gradients of the batch mean: scale ours by 1/batch
                let scaled = de.map { $0 / Float(answers.count) }
                let refRow = Array(ref[(i * 576)..<((i + 1) * 576)])
                let maxRef = refRow.map(abs).max()!
                XCTAssertLessThan(maxAbsDiff(scaled, refRow), 2e-3 * maxRef, "\(name)[\(i)] dL/de")
            }
        }
    }

    /// Directional finite differences: (L(x+hv) − L(x−hv)) / 2h ≈ ∇L·v.
    func checkFiniteDifferences(_ path: String, prefixLength: Int) throws {
        let model = try ModelLoader.load(path: path).model
        let d = model.config.dim
        var rng = SeededRandom(seed: 42)
        let prefix = (0..<prefixLength).map { _ in Int(rng.next() % 500) + 3 }
        let suffix = [17, 99, 256, 4], answer = [300, 301, 7, 2]
        let image = (0..<d).map { _ in rng.nextFloat() * 2 - 1 }
        let (_, grad) = try lossAndGradient(model, prefix: prefix, image: image, suffix: suffix, answer: answer)
        for trial in 0..<4 {
            let v = (0..<d).map { _ in rng.nextFloat() * 2 - 1 }
            let h: Float = 1e-2
            let plus = zip(image, v).map { $0 + h * $1 }, minus = zip(image, v).map { $0 - h * $1 }
            let lp = try lossAndGradient(model, prefix: prefix, image: plus, suffix: suffix, answer: answer).0
            let lm = try lossAndGradient(model, prefix: prefix, image: minus, suffix: suffix, answer: answer).0
            let numeric = (lp - lm) / (2 * h)
            let analytic = zip(grad, v).map(*).reduce(0, +)
            XCTAssertEqual(analytic, numeric, accuracy: 2e-2 * max(abs(numeric), 1e-1), "\(path) prefix \(prefixLength) direction \(trial)")
        }
    }

    func testFiniteDifferencesSafetensors() throws {
        try checkFiniteDifferences(Fixtures.path("tiny-llama3"), prefixLength: 0 + 1)
        try checkFiniteDifferences(Fixtures.path("tiny-llama3"), prefixLength: 9)
    }

    func testFiniteDifferencesGGUF() throws {
        try checkFiniteDifferences(Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf"), prefixLength: 5)
    }

    /// Each layer type on its own: every op pair checked by finite differences.
    func testKernelPairsByFiniteDifferences() {
        var rng = SeededRandom(seed: 7)
        let d = 16, rows = 3
        let x = (0..<rows * d).map { _ in rng.nextFloat() * 2 - 1 }
        let w = (0..<d).map { _ in 1 + 0.3 * (rng.nextFloat() - 0.5) }
        let up = (0..<rows * d).map { _ in rng.nextFloat() * 2 - 1 }
        let probe = (0..<rows * d).map { _ in rng.nextFloat() * 2 - 1 }   // L = probe · f(x)
        func numeric(_ f: ([Float]) -> [Float]) -> [Float] {
            (0..<x.count).map { i in
                var a = x, b = x
                a[i] += 1e-2; b[i] -= 1e-2
                return zip(probe, f(a)).map(*).reduce(0, +) / 2e-2 - zip(probe, f(b)).map(*).reduce(0, +) / 2e-2
            }
        }
        // RMSNorm
        let rms: ([Float]) -> [Float] = { inp in
            var o = [Float](repeating: 0, count: inp.count)
            rmsnormForward(&o, nil, inp, w, rows: rows, d: d, eps: 1e-5); return o
        }
        var rstd = [Float](repeating: 0, count: rows), tmp = [Float](repeating: 0, count: x.count)
        rmsnormForward(&tmp, &rstd, x, w, rows: rows, d: d, eps: 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        rmsnormBackward(&dx, probe, x, w, rstd, rows: rows, d: d)
        XCTAssertLessThan(maxAbsDiff(dx, numeric(rms)), 2e-3, "rmsnorm")
        // SwiGLU (gradient with respect to the gate input)
        let glu: ([Float]) -> [Float] = { g in
            var o = [Float](repeating: 0, count: g.count); swigluForward(&o, g, up, g.count); return o
        }
        var dg = [Float](repeating: 0, count: x.count), du = dg
        swigluBackward(&dg, &du, probe, x, up, x.count)
        XCTAssertLessThan(maxAbsDiff(dg, numeric(glu)), 2e-3, "swiglu")
        // RoPE in both pairings
        let cosT = (0..<8 * 4).map { Float(cos(Double($0) * 0.3)) }, sinT = (0..<8 * 4).map { Float(sin(Double($0) * 0.3)) }
        for pairing in [RoPEPairing.halves, .adjacent] {
            let rope: ([Float]) -> [Float] = { inp in
                var o = inp
                ropeForward(&o, rows: rows, heads: 2, hd: 8, positions: [1, 2, 3], cos: cosT, sin: sinT, pairing: pairing); return o
            }
            var g = probe
            ropeBackward(&g, rows: rows, heads: 2, hd: 8, positions: [1, 2, 3], cos: cosT, sin: sinT, pairing: pairing)
            XCTAssertLessThan(maxAbsDiff(g, numeric(rope)), 2e-3, "rope \(pairing)")
        }
    }
}

final class BatchedSequencesTests: XCTestCase {
    /// Three sequences after one shared prefix, run as one batch, give the logits and the
    /// input gradients of three separate runs.
    func testBatchMatchesSeparateSequences() throws {
        let model = try ModelLoader.load(path: Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf")).model
        let d = model.config.dim
        let prefix = [1, 40, 41, 42, 43]
        let seqs = [[7, 8, 9, 10], [11, 12, 13, 14], [300, 301, 302, 303]]
        let targets = [[8, 9], [12, 13], [301, 302]]
        // separately
        var sepLogits: [Float] = [], sepGrads: [Float] = []
        for (s, ids) in seqs.enumerated() {
            let cache = KVCache(config: model.config)
            _ = try model.forward(model.embed(prefix), cache: cache, logitRows: [])
            let tape = ForwardTape()
            let logits = try model.forward(model.embed(ids), cache: cache, logitRows: [1, 2], tape: tape)
            let (_, dl) = crossEntropy(logits: logits, targets: targets[s], vocab: model.config.vocabSize)
            sepLogits += logits
            sepGrads += try model.backward(tape: tape, dLogits: dl, cache: cache)
        }
        // batched
        let cache = KVCache(config: model.config)
        _ = try model.forward(model.embed(prefix), cache: cache, logitRows: [])
        let layout = RowLayout.batch(prefix: prefix.count, stride: 6, done: [0, 0, 0], new: [4, 4, 4])
        let tape = ForwardTape()
        let logits = try model.forward(model.embed(seqs.flatMap { $0 }), cache: cache, layout: layout,
                                       logitRows: [1, 2, 5, 6, 9, 10], tape: tape)
        XCTAssertLessThan(maxAbsDiff(logits, sepLogits), 1e-4)
        let v = model.config.vocabSize
        var dl: [Float] = []
        for s in 0..<3 {
            dl += crossEntropy(logits: Array(logits[(2 * s * v)..<((2 * s + 2) * v)]), targets: targets[s], vocab: v).dLogits
        }
        let grads = try model.backward(tape: tape, dLogits: dl, cache: cache)
        XCTAssertEqual(grads.count, 12 * d)
        XCTAssertLessThan(maxAbsDiff(grads, sepGrads), 1e-4)
        // continuing one sequence of the batch by a token matches continuing it alone
        let next = RowLayout.batch(prefix: prefix.count, stride: 6, done: [4, 4, 4], new: [0, 1, 0])
        let more = try model.forward(model.embed([15]), cache: cache, layout: next, logitRows: [0])
        let alone = KVCache(config: model.config)
        let ref = try model.forward(model.embed(prefix + seqs[1] + [15]), cache: alone, logitRows: [9])
        XCTAssertLessThan(maxAbsDiff(more, ref), 1e-4)
    }
}
