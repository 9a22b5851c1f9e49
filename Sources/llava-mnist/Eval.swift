// `llava-mnist eval`: the seed's evaluate.py. Replies sampled at temperature 0.6 / top-p 0.9
// (or greedy), at most 20 tokens, scored by the seed's rule.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a projector on the test images (the seed's evaluate.py).",
        discussion: "Example: llava-mnist eval --projector projector.safetensors --data ../shared/data/mnist --n 1000 --greedy")

    @OptionGroup var model: ModelOptions
    @Option(help: "The projector to evaluate (default: an untrained one).") var projector: String?
    @Option(help: "A folder of MNIST IDX files (t10k is enough; default: the offline held-out split).") var data: String?
    @Option(parsing: .unconditional, help: "First test image.") var from = 0
    @Option(parsing: .unconditional, help: "Number of test images (default: 1,000, or all from --from when fewer).") var n: Int?
    @Option(help: "The question asked about each image.") var question = "What digit is this?"
    @Flag(help: "Greedy decoding instead of sampling (t=0.6, top-p 0.9).") var greedy = false
    @Option(help: "Seed for sampling.") var seed: Int = 0
    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Most new tokens per reply.") var maxTokens = 20
    @Option(help: "Write per-example rows (index, label, predicted, correct, cosine, reply) as TSV.") var rows: String?
    @Flag(help: "Print one JSON object with accuracy, n, per_digit, confusion, mean_cosine.") var json = false

    func validate() throws {
        if let n, n < 1 { throw ValidationError("--n must be positive") }
        if from < 0 { throw ValidationError("--from must not be negative") }
        if maxTokens < 1 || maxTokens > 8192 { throw ValidationError("--max-tokens must be between 1 and 8192") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            let s = try model.session(display: json ? QuietDisplay(wrapping: TerminalDisplay()) : TerminalDisplay())
            try s.loadMNIST(split: .test, path: data)
            _ = try s.evaluationRange(n: n, from: from)   // before any note: one line when it fails
            if let projector { try s.loadProjector(projector) }
            else { FileHandle.standardError.write(Data("note: no --projector given: evaluating an untrained (random) projector\n".utf8)) }
            try s.set(.seed, .int(seed))
            try s.set(.max, .int(maxTokens))
            let r = try s.evaluate(n: n, from: from, question: question, greedy: greedy, rowsPath: rows, quiet: json)
            if json {
                try printJSON(["accuracy": r.accuracy, "n": r.n, "correct": r.correct,
                               "per_digit": r.perDigit.map { $0 as Any? ?? NSNull() }, "confusion": r.confusion,
                               "mean_cosine": r.meanCosine, "seconds": r.seconds, "greedy": greedy, "question": question,
                               "interrupted": r.interrupted, "data": try s.mnist().test.source])
            }
            if r.interrupted { throw ExitCode(130) }
        }
    }
}
