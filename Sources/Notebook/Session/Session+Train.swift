// `train`, `eval`, `loss` and `grad`: the experiment's commands.
import Foundation
import Llava

extension Session {
    // MARK: - Training

    /// Starts a training run of the current projector on the training split (the CLI's
    /// `train` sets the whole recipe here; `--resume` passes the saved optimizer state).
    @discardableResult
    public func startTraining(_ options: TrainingOptions, optimizer: AdamW? = nil, stepsDone: Int = 0) throws -> Trainer {
        let m = try model()
        if let problem = Self.problem(with: .int(options.batch), for: .batch) { throw CommandError(problem) }
        // A step's rows must fit the context (checked before the trainer allocates its cache).
        let p = try prompt()
        let perImage = p.suffixIDs.count + (0...9).map { p.answerIDs(label: $0).count }.max()!
        let context = m.model.config.contextLength
        if p.prefixIDs.count + options.batch * perImage > context {
            throw CommandError("batch \(options.batch) needs \(p.prefixIDs.count + options.batch * perImage) positions per step "
                               + "(\(perImage) per image after a \(p.prefixIDs.count)-token prompt), more than the model's context of \(context): "
                               + "use at most \(max(0, (context - p.prefixIDs.count) / perImage)) images per step")
        }
        let t = try Trainer(model: m.model, prompt: try prompt(), projector: try currentProjector(), data: try mnist().train,
                            order: try trainingOrder(seed: options.seed, torchRandom: options.torchRandom), options: options, optimizer: optimizer, stepsDone: stepsDone)
        trainer = t
        return t
    }

    /// The trainer `train` continues, or a new one when the command asks for a different
    /// batch, learning rate or seed than the current run.
    func trainer(for o: TrainOptions) throws -> Trainer {
        for (setting, value) in [(Setting.steps, o.steps.map { SettingValue.int($0) }), (.batch, o.batch.map { .int($0) }),
                                 (.lr, o.learningRate.map { .double($0) }), (.every, o.every.map { .int($0) })] {
            if let value, let problem = Self.problem(with: value, for: setting) { throw CommandError(problem) }
        }
        let batch = o.batch ?? int(.batch), lr = Float(o.learningRate ?? double(.lr))
        let seed = UInt64(truncatingIfNeeded: o.seed ?? int(.seed))
        if let t = trainer, t.options.batch == batch, t.options.optimizer.lr == lr, t.options.seed == seed { return t }
        var options = TrainingOptions()
        options.steps = Int.max / 2        // the notebook trains in chunks; each command gives its count
        options.batch = batch
        options.optimizer.lr = lr
        options.seed = seed
        return try startTraining(options)
    }

    /// Runs `steps` training steps with a live progress line; Ctrl-C stops after the
    /// current step and keeps everything trained so far. With `saveEvery` K > 0, the
    /// projector and optimizer state are saved to `saveTo` after every K-th step (counting
    /// resumed steps), atomically, so a killed run resumes from its last checkpoint.
    public func train(_ o: TrainOptions, saveEvery: Int = 0, saveTo: String? = nil) throws {
        let steps = o.steps ?? int(.steps)
        guard steps > 0 else { throw CommandError("steps must be positive") }
        let t = try trainer(for: o)   // checks the other arguments' ranges
        let every = o.every ?? int(.every)
        var smooth = SmoothedValue(decay: 0.95)
        let start = t.stepsDone, t0 = Clock.now()
        let interrupted = try t.run(count: steps) { r in
            let done = r.step - start
            let s = smooth.add(Double(r.loss))
            let rate = Double(done) / max(Clock.now() - t0, 1e-9)
            lossHistory.append(r.loss)
            display.status(ProgressLine(step: done, total: steps, loss: Double(r.loss), smoothedLoss: s, stepsPerSecond: rate)
                .render(unicode: display.colorMode != .none))
            if every > 0 && (done % every == 0 || done == steps) {
                var line = "step \(r.step): loss \(formatFixed(Double(r.loss), 4)) (smoothed \(formatFixed(s, 4)))"
                if let sample = try? sampleReply(t) { line += " | \(sample)" }
                display.line(line)
            }
            if saveEvery > 0, let saveTo, r.step % saveEvery == 0 { try saveCheckpoint(t, to: saveTo) }
        }
        projector = t.projector
        projectorOrigin = "trained \(t.stepsDone) steps"
        let done = t.stepsDone - start
        let secs = Clock.now() - t0
        if interrupted {
            display.line("interrupted after \(done) of \(steps) steps: the projector keeps them (\(t.stepsDone) in all); `save projector PATH` saves it, `train` continues")
        } else {
            display.line("trained \(done) steps in \(formatDuration(secs)) (\(formatFixed(Double(done) / max(secs, 1e-9), 2)) steps/s); total \(t.stepsDone)")
        }
        appendLossLog(t, from: start)
    }

    /// A reply for the image of the last step, sampled like the seed prints during training.
    func sampleReply(_ t: Trainer) throws -> String {
        let img = t.batch(forStep: max(0, t.stepsDone - 1))[0]
        let m = try model(), tok = try m.requireTokenizer()
        let e = t.projector.forward(img.normalized()).embeddings
        let p = t.prompt
        let gen = try m.model.generate(embeddings: m.model.embed(p.prefixIDs) + p.rowsAfterPrefix(model: m.model, image: e),
                                       maxTokens: int(.max), stopTokens: p.format.stopTokens(tok),
                                       sampling: SamplingParameters(temperature: Float(double(.temp)), topP: Float(double(.topP)), seed: UInt64(t.stepsDone)))
        return "label \(img.label ?? -1): \"\(tok.decode(gen.ids, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines))\""
    }

    /// Appends per-step losses to `train-loss.log` in the working folder when `LLAVA_MNIST_LOSS_LOG` names a file.
    func appendLossLog(_ t: Trainer, from start: Int) {
        guard let path = ProcessInfo.processInfo.environment["LLAVA_MNIST_LOSS_LOG"], !path.isEmpty else { return }
        let lines = t.losses[start...].enumerated().map { "\(start + $0.offset + 1)\t\($0.element)" }.joined(separator: "\n") + "\n"
        if let h = FileHandle(forWritingAtPath: path) { h.seekToEndOfFile(); h.write(Data(lines.utf8)); h.closeFile() }
        else { try? lines.write(toFile: path, atomically: true, encoding: .utf8) }
    }

    // MARK: - Evaluation

    /// Evaluates on the first `n` test images; prints accuracy, per-digit accuracy and the confusion matrix.
    @discardableResult
    public func evaluate(n: Int? = nil, from: Int = 0, question: String? = nil, greedy: Bool? = nil,
                         rowsPath: String? = nil, quiet: Bool = false) throws -> EvalReport {
        let m = try model(), tok = try m.requireTokenizer()
        let test = try mnist().test
        let range = try evaluationRange(n: n, from: from)
        let items = range.map { (index: $0, image: test.images[$0]) }
        let options = Llava.EvalOptions(greedy: greedy ?? bool(.greedy), seed: UInt64(truncatingIfNeeded: int(.seed)), maxTokens: int(.max))
        let q = question ?? string(.question)
        let p = try prompt(question: q)
        try Self.checkContext(promptTokens: p.prefixIDs.count + 1 + p.suffixIDs.count, maxTokens: options.maxTokens,
                              context: m.model.config.contextLength)
        trainer?.releasePanels()   // evaluation runs batches of 64: the training copy only adds memory
        var done = 0, correct = 0
        let t0 = Clock.now()
        let report = try Evaluator.run(model: m.model, tokenizer: tok, prompt: p, projector: try currentProjector(),
                                       images: items, options: options) { row in
            done += 1; if row.correct { correct += 1 }
            let rate = Double(done) / max(Clock.now() - t0, 1e-9)
            display.status("eval \(done)/\(items.count)  accuracy \(formatFixed(100 * Double(correct) / Double(done), 1))%  \(formatFixed(rate, 2)) img/s")
        }
        if let rowsPath { try writeRows(report, to: rowsPath) }
        if !quiet { show(report, question: q, greedy: options.greedy) }
        return report
    }

    /// The test images `eval` reads: `n` from `from` (an explicit count must exist; the `n`
    /// setting, 1,000 by default, takes what there is). Throws a clear message otherwise.
    public func evaluationRange(n: Int?, from: Int) throws -> Range<Int> {
        let total = try mnist().test.count
        guard from >= 0, from < total else { throw CommandError("from=\(from) is out of range: the test split has \(total) images") }
        if let n {
            guard n >= 1 else { throw CommandError("n must be positive, got \(n)") }
            guard n <= total - from else {
                throw CommandError("asked for \(n) test images from image \(from), but the test split has \(total)"
                                   + (from > 0 ? " (at most \(total - from) from there)" : ""))
            }
        }
        return from..<(from + (n ?? min(int(.n), total - from)))
    }

    func show(_ r: EvalReport, question: String, greedy: Bool) {
        display.line("accuracy \(formatFixed(100 * r.accuracy, 1))% (\(r.correct)/\(r.n)), \(greedy ? "greedy" : "sampled t=\(double(.temp)) top-p \(double(.topP))"), question \"\(question)\""
                     + (r.interrupted ? " — interrupted" : ""))
        let per = r.perDigit.enumerated().map { d, a in (label: "\(d)", value: a ?? 0) }
        display.figure(.confusion(r.confusion), text: "per digit:\n" + barChart(per, width: 30, decimals: 2, unicode: display.colorMode != .none)
                       + "\nconfusion (rows: label, columns: answer, ?: no digit):\n" + confusionMatrix(r.confusion, columnLabels: (0...9).map(String.init) + ["?"]))
        display.line("mean cosine(image embedding, digit token embedding): \(formatFixed(r.meanCosine, 4))")
    }

    /// Per-example rows as TSV (index, label, predicted, correct, cosine, reply).
    func writeRows(_ r: EvalReport, to path: String) throws {
        var out = "index\tlabel\tpredicted\tcorrect\tcosine\treply\n"
        for row in r.rows {
            let reply = row.reply.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: "\\n")
            out += "\(row.index)\t\(row.label)\t\(row.predicted.map(String.init) ?? "")\t\(row.correct)\t\(row.cosine)\t\(reply)\n"
        }
        try AtomicFile.write(Data(out.utf8), to: (path as NSString).expandingTildeInPath)
    }

    // MARK: - Loss and gradient (teaching)

    /// The loss of the true answer for training image `index` (default 0), and its gradients.
    public func lossAndGradients(image index: Int?) throws -> (image: DigitImage, loss: Float, grads: [[Float]], dE: [Float]) {
        let img = try image(.index(index ?? 0))
        guard img.label != nil else { throw CommandError("that image has no label to score against") }
        let t = try trainer(for: TrainOptions())
        let (loss, _, grads, dE) = try t.lossAndGradients([img])
        return (img, loss, grads, dE)
    }
}
