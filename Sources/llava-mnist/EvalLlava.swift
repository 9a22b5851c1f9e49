// `llava-mnist eval-llava`: the seed's evaluate_llava.py. llava-hf/llava-1.5-7b-hf (or any
// llava-hf LLaVA-1.5 folder) answers `USER: <image>\n{question} ASSISTANT:` about each test
// image, greedy, at most 15 new tokens, scored by the same rule as `eval`.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct EvalLlava: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-llava",
        abstract: "Evaluate LLaVA-1.5 zero-shot on the test images (the seed's evaluate_llava.py baseline).",
        discussion: """
            Needs a llava-hf LLaVA-1.5 folder (config.json, safetensors, tokenizer.json, preprocessor_config.json), \
            by default ~/.cache/llava-mnist/models/llava-1.5-7b-hf ($LLAVA_MNIST_CACHE overrides the cache).
            Example: llava-mnist eval-llava --data ../shared/data/mnist --n 1000 --json
            """)

    @Option(help: "A llava-hf LLaVA-1.5 folder (default: llava-1.5-7b-hf in the model cache).") var model: String?
    @Option(help: "The question asked about each image.") var question = "What digit is this?"
    @Option(help: "Number of test images.") var n = 1000
    @Option(help: "First test image.") var from = 0
    @Option(help: "A folder of MNIST IDX files (t10k is enough; default: the offline held-out split).") var data: String?
    @Option(name: .customLong("max-tokens"), help: "Most new tokens per reply.") var maxTokens = LlavaEvaluator.maxNewTokens
    @Option(help: "Compute threads (default: one per core).") var threads: Int?
    @Option(help: "Write per-example rows (index, label, predicted, correct, reply) as TSV.") var rows: String?
    @Flag(help: "Only time the vision tower (preprocessing, CLIP, projector) on min(n, 16) images and print images/s.") var bench = false
    @Flag(help: "Print one JSON object with accuracy, n, per_digit, confusion and timings.") var json = false

    func validate() throws {
        if n < 1 { throw ValidationError("--n must be positive") }
        if from < 0 { throw ValidationError("--from must not be negative") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be positive") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            if let threads { Parallel.threads = threads }
            let display: Display = json ? QuietDisplay(wrapping: TerminalDisplay()) : TerminalDisplay()
            let t0 = Clock.now()
            let llava = try LlavaModel.load(path: model)
            let c = llava.config, lm = llava.language.model.config
            display.line("loaded \(llava.path) in \(formatFixed(Clock.now() - t0, 1)) s: CLIP \(c.vision.layers) layers d \(c.vision.hiddenSize) "
                         + "(features from hidden state \(c.featureIndices), \(c.imageTokens) image tokens) + projector + Llama \(lm.layers) layers d_model \(lm.dim)")
            let test = try (data.map { try Session.loadData(folder: ($0 as NSString).expandingTildeInPath) } ?? MNISTData.defaultOffline(seed: 0)).test
            guard from < test.count else { throw CommandError("--from \(from) is out of range: the test split has \(test.count) images") }
            let items = (from..<min(test.count, from + n)).map { (index: $0, image: test.images[$0]) }
            if bench { return try runBench(llava, items.prefix(16).map(\.image), display: display) }
            try evaluate(llava, items, source: test.source, display: display)
        }
    }

    func runBench(_ llava: LlavaModel, _ images: [DigitImage], display: Display) throws {
        let rate = try LlavaEvaluator.visionImagesPerSecond(model: llava, images: images)
        if json {
            try printJSON(["vision_images_per_s": rate, "images": images.count, "threads": Parallel.threads, "model": llava.path])
        } else {
            display.line("vision tower (preprocess + CLIP + projector): \(formatFixed(rate, 2)) images/s over \(images.count) images, \(Parallel.threads) threads")
        }
    }

    func evaluate(_ llava: LlavaModel, _ items: [(index: Int, image: DigitImage)], source: String, display: Display) throws {
        var vision = 0.0, prompt = 0.0, generate = 0.0, newTokens = 0, done = 0, correct = 0
        let t0 = Clock.now()
        let r = try LlavaEvaluator.run(model: llava, images: items, question: question, maxTokens: maxTokens) { row, a in
            vision += a.visionSeconds; prompt += a.generation.promptSeconds; generate += a.generation.generateSeconds
            newTokens += a.ids.count; done += 1; if row.correct { correct += 1 }
            display.line("\(row.index)\tlabel \(row.label)\t\(row.correct ? "✓" : "✗")\t\(row.reply.debugDescription)")
            display.status("eval-llava \(done)/\(items.count)  accuracy \(formatFixed(100 * Double(correct) / Double(done), 1))%  "
                           + "\(formatFixed(Double(done) / max(Clock.now() - t0, 1e-9), 3)) img/s")
        }
        if let rows { try writeRows(r) }
        let k = Double(max(r.n, 1))
        if json {
            try printJSON(["accuracy": r.accuracy, "n": r.n, "correct": r.correct,
                           "per_digit": r.perDigit.map { $0 as Any? ?? NSNull() }, "confusion": r.confusion,
                           "seconds": r.seconds, "greedy": true, "question": question, "max_tokens": maxTokens,
                           "interrupted": r.interrupted, "data": source, "model": llava.path,
                           "seconds_per_image": ["vision": vision / k, "prefill": prompt / k, "decode": generate / k],
                           "vision_images_per_s": vision > 0 ? Double(r.n) / vision : 0,
                           "prompt_tokens": try llava.expandedPromptIDs(question: question).count,
                           "mean_new_tokens": Double(newTokens) / k])
        } else {
            display.line("accuracy \(formatFixed(100 * r.accuracy, 1))% (\(r.correct)/\(r.n)), greedy, question \"\(question)\", data: \(source)"
                         + (r.interrupted ? " — interrupted" : ""))
            let per = r.perDigit.enumerated().map { d, a in (label: "\(d)", value: a ?? 0) }
            display.figure(.confusion(r.confusion), text: "per digit:\n" + barChart(per, width: 30, decimals: 2, unicode: display.colorMode != .none)
                           + "\nconfusion (rows: label, columns: answer, ?: no digit):\n" + confusionMatrix(r.confusion))
            display.line("per image: vision \(formatFixed(vision / k, 3)) s (\(formatFixed(vision > 0 ? Double(r.n) / vision : 0, 2)) images/s), "
                         + "prefill \(formatFixed(prompt / k, 3)) s, decode \(formatFixed(generate / k, 3)) s")
        }
        if r.interrupted { throw ExitCode(130) }
    }

    func writeRows(_ r: EvalReport) throws {
        var out = "index\tlabel\tpredicted\tcorrect\treply\n"
        for row in r.rows {
            let reply = row.reply.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: "\\n")
            out += "\(row.index)\t\(row.label)\t\(row.predicted.map(String.init) ?? "")\t\(row.correct)\t\(reply)\n"
        }
        try AtomicFile.write(Data(out.utf8), to: (rows! as NSString).expandingTildeInPath)
    }
}
