// LLaVA-1.5 in the notebook: `load model DIR` on a llava-hf folder (config.json with a
// vision_config) loads the whole vision-language model, and `ask "…" img=N` is then answered
// by it (CLIP tower + projector + Vicuna) instead of the seed's one-layer projector, and
// `eval` runs the seed's evaluate_llava.py baseline (greedy, at most 15 new tokens). Any
// other `load model` puts the seed's setup back. Training and project keep using the
// session's Llama model and projector.
import Foundation
import Llava

extension Interpreter {
    /// `load model PATH`: a LLaVA folder becomes the model `ask` uses; anything else goes to the session.
    func loadModelOrLlava(_ path: String?) throws {
        guard let path, !Sandbox.isModelName(path), LlavaModel.isLlavaFolder(path) else {
            llava = nil
            // A missing folder named like LLaVA: say what to download rather than "no such file".
            if let path, (path as NSString).lastPathComponent.lowercased().contains("llava"),
               !FileManager.default.fileExists(atPath: (path as NSString).expandingTildeInPath) {
                throw CommandError("\(path): " + LlavaModel.downloadHint)
            }
            try session.loadModel(path)
            return
        }
        let t0 = Clock.now()
        let m = try LlavaModel.load(path: path)
        llava = m
        let c = m.config, lm = m.language.model.config
        display.line("loaded LLaVA \(path) in \(formatFixed(Clock.now() - t0, 1)) s: CLIP \(c.vision.layers) layers d \(c.vision.hiddenSize) "
                     + "(\(c.imageTokens) image tokens) + projector + Llama \(lm.layers) layers d_model \(lm.dim), vocab \(lm.vocabSize)")
        display.line("ask \"…\" img=N now answers with LLaVA (prompt USER: <image>\\n{question} ASSISTANT:)")
    }

    /// A reply from the loaded LLaVA model, streamed; about `image` when given.
    func askLlava(_ m: LlavaModel, question: String, image: DigitImage?, settings r: ReplySettings) throws -> Generation {
        let tok = m.tokenizer
        var stream = StreamingDecoder()
        var started = false
        let show: (Int) -> Bool = { id in
            guard !tok.isSpecial(id) else { return true }
            var piece = stream.append(tok.tokenBytes(id))
            // SentencePiece's decoder drops the "▁" space of the reply's first word
            if !started, piece.hasPrefix(" ") { piece.removeFirst() }
            started = started || !piece.isEmpty
            self.display.partial(piece)
            return true
        }
        let gen: Generation
        if let image {
            gen = try m.answer(question: question, image: image, maxTokens: r.maxTokens, sampling: r.sampling, onToken: show).generation
        } else {
            var ids = tok.encode("USER: \(question) ASSISTANT:", parseSpecial: false)
            if tok.addsBOSByDefault, let bos = tok.bosID { ids.insert(bos, at: 0) }
            gen = try m.language.model.generate(tokens: ids, maxTokens: r.maxTokens, stopTokens: m.stopTokens, sampling: r.sampling, onToken: show)
        }
        display.line(stream.flush())
        return gen
    }
}

extension Interpreter {
    /// `eval` with LLaVA loaded: the seed's evaluate_llava.py on the first `n` test images
    /// (greedy, at most 15 new tokens, the seed's scoring).
    func evalLlava(_ m: LlavaModel, options: EvalOptions) throws -> EvalReport {
        let test = try session.mnist().test
        let items = (0..<min(test.count, options.count ?? session.int(.n))).map { (index: $0, image: test.images[$0]) }
        let question = options.question ?? session.string(.question)
        var done = 0, correct = 0
        let t0 = Clock.now()
        let r = try LlavaEvaluator.run(model: m, images: items, question: question) { row, _ in
            done += 1; if row.correct { correct += 1 }
            display.status("eval-llava \(done)/\(items.count)  accuracy \(formatFixed(100 * Double(correct) / Double(done), 1))%  "
                           + "\(formatFixed(Double(done) / max(Clock.now() - t0, 1e-9), 3)) img/s")
        }
        display.line("LLaVA accuracy \(formatFixed(100 * r.accuracy, 1))% (\(r.correct)/\(r.n)), greedy, at most \(LlavaEvaluator.maxNewTokens) new tokens, question \"\(question)\""
                     + (r.interrupted ? " — interrupted" : ""))
        let per = r.perDigit.enumerated().map { d, a in (label: "\(d)", value: a ?? 0) }
        display.figure(.confusion(r.confusion), text: "per digit:\n" + barChart(per, width: 30, decimals: 2, unicode: display.colorMode != .none)
                       + "\nconfusion (rows: label, columns: answer, ?: no digit):\n" + confusionMatrix(r.confusion))
        return r
    }
}
