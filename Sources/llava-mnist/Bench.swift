// `llava-mnist bench`: throughput figures (medians over repetitions), named as llama.cpp's
// llama-bench names them: pp N = prompt processing of N tokens, tg N = generating N tokens;
// plus training steps/s (seed recipe), evaluation images/s and peak memory.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure prompt processing, generation, training and evaluation speed.")

    @OptionGroup var model: ModelOptions
    @Option(parsing: .unconditional, help: "Repetitions per figure (the median is reported).") var repetitions = 3
    @Option(help: "Which figures: any of pp32,pp128,pp512,tg64,train,eval (comma-separated).") var only = "pp32,pp128,pp512,tg64,train,eval"
    @Option(name: .customLong("train-batch"), parsing: .unconditional, help: "Batch size of the second training figure.") var trainBatch = 4
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if repetitions < 1 || repetitions > 1000 { throw ValidationError("--repetitions must be between 1 and 1000") }
        if trainBatch < 1 || trainBatch > 256 { throw ValidationError("--train-batch must be between 1 and 256") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            let s = try model.session(display: QuietDisplay(wrapping: TerminalDisplay()))
            let m = try s.model().model
            let wanted = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            var result: [String: Any] = ["threads": Parallel.threads, "model": (try s.model().path as NSString).lastPathComponent,
                                         "repetitions": repetitions]
            func report(_ key: String, _ value: Double, _ unit: String) {
                result[key] = (value * 100).rounded() / 100
                if !json { print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%10.2f", value)) \(unit)") }
            }
            var rng = SeededRandom(seed: 1)
            let vocab = m.config.vocabSize
            for n in [32, 128, 512] where wanted.contains("pp\(n)") {
                let ids = (0..<n).map { _ in Int(rng.next() % UInt64(vocab)) }
                let t = try median { _ = try m.forward(m.embed(ids), cache: KVCache(config: m.config, capacity: n), logitRows: [n - 1]) }
                report("pp\(n)", Double(n) / t, "tokens/s")
            }
            if wanted.contains("tg64") {
                let t = try median {
                    let cache = KVCache(config: m.config, capacity: 80)
                    _ = try m.forward(m.embed([1]), cache: cache, logitRows: [0])
                    for i in 0..<64 { _ = try m.forward(m.embed([(i * 7919) % vocab]), cache: cache, logitRows: [0]) }
                }
                report("tg64", 64 / t, "tokens/s")
            }
            if wanted.contains("train") || wanted.contains("eval") { try s.loadMNIST(split: .train, path: nil) }
            if wanted.contains("train") {
                for batch in Array(Set([1, trainBatch])).sorted() {
                    var o = TrainingOptions()
                    o.batch = batch
                    s.resetProjector(seed: 0)
                    let t = try s.startTraining(o)
                    try t.step()   // warm-up
                    let secs = try median { try t.step() }
                    if batch == 1 { report("train_steps_per_s", 1 / secs, "steps/s (seed recipe, batch 1)") }
                    else { report("train_steps_per_s_batch\(batch)", 1 / secs, "steps/s (batch \(batch), \(String(format: "%.1f", Double(batch) / secs)) images/s)") }
                }
            }
            if wanted.contains("eval") {
                s.resetProjector(seed: 0)
                // One batch, as `eval` decodes them (an untrained projector: replies run to 20 tokens).
                let n = EvalOptions().batchSize
                let t = try median { _ = try s.evaluate(n: n, greedy: true, quiet: true) }
                report("eval_images_per_s", Double(n) / t, "images/s (greedy, ≤20 tokens, a batch of \(n))")
            }
            report("peak_rss_mb", peakRSSMegabytes(), "MB")
            // Which OpenBLAS kernels ran the prompt products (see BLAS.swift).
            result["blas_kernels"] = BLAS.coreName
            if !json { print("blas_kernels                 \(BLAS.coreName)") }
            if json { try printJSON(result) }
        }
    }

    /// Median wall time of `repetitions` runs of `body`.
    func median(_ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let t0 = Clock.now()
            try body()
            times.append(Clock.now() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }
}

/// Peak resident memory of this process (Linux reports ru_maxrss in KiB).
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
