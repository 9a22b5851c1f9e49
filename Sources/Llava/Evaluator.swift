// Evaluation as the seed does it: for each test image, generate a reply (sampled at
// temperature 0.6 / top-p 0.9, or greedy) of at most 20 tokens after the multimodal prompt,
// score it with the seed's rule, and report accuracy, per-digit accuracy, a confusion matrix
// and the cosine similarity between each image embedding and its label's digit token.

/// Settings of an evaluation run.
public struct EvalOptions: Sendable {
    public var greedy = false
    public var seed: UInt64 = 0
    public var maxTokens = 20
    /// Images decoded together (one set of matrix products per generated token). 64 rows run
    /// OpenBLAS sgemm on the decoded tiles: 1.4× faster per image than 32 here, peak memory
    /// 315 MB; 128 was faster still but passed 450 MB.
    public var batchSize = 64
    public init(greedy: Bool = false, seed: UInt64 = 0, maxTokens: Int = 20, batchSize: Int = 64) {
        self.greedy = greedy; self.seed = seed; self.maxTokens = maxTokens; self.batchSize = max(1, batchSize)
    }
}

/// One scored example.
public struct EvalRow: Sendable {
    public let index: Int
    public let label: Int
    public let reply: String
    public let predicted: Int?
    public let correct: Bool
    /// cos(image embedding, embedding of the label's digit token).
    public let cosine: Float
}

/// The outcome of an evaluation.
public struct EvalReport: Sendable {
    public var rows: [EvalRow] = []
    public var seconds: Double = 0
    public var interrupted = false

    public var n: Int { rows.count }
    public var correct: Int { rows.filter(\.correct).count }
    public var accuracy: Double { n == 0 ? 0 : Double(correct) / Double(n) }
    /// Accuracy per label (nil where a digit has no example).
    public var perDigit: [Double?] {
        (0..<10).map { d in
            let r = rows.filter { $0.label == d }
            return r.isEmpty ? nil : Double(r.filter(\.correct).count) / Double(r.count)
        }
    }
    /// counts[label][predicted], with column 10 for replies that name no digit.
    public var confusion: [[Int]] {
        var m = Array(repeating: Array(repeating: 0, count: 11), count: 10)
        for r in rows { m[r.label][r.predicted ?? 10] += 1 }
        return m
    }
    public var meanCosine: Double { n == 0 ? 0 : rows.reduce(0) { $0 + Double($1.cosine) } / Double(n) }
}

public enum Evaluator {
    /// Evaluates `projector` on `images` (with their dataset indices), calling `onRow` as
    /// each is scored. Images are decoded in batches after the shared prompt prefix, each with
    /// its own sampler and stop. Ctrl-C stops early and returns what was scored.
    public static func run(model: LlamaModel, tokenizer: any Tokenizer, prompt: MultimodalPrompt, projector: Projector,
                           images: [(index: Int, image: DigitImage)], options: EvalOptions,
                           onRow: (EvalRow) -> Void = { _ in }) throws -> EvalReport {
        let t0 = Clock.now()
        var report = EvalReport()
        let stops = prompt.format.stopTokens(tokenizer).union(tokenizer.eosID.map { [$0] } ?? [])
        let digitEmbeddings: [[Float]] = (0..<10).map { d in prompt.digitTokenID(d).map { model.embed([$0]) } ?? [] }
        let cache = KVCache(config: model.config, capacity: prompt.prefixIDs.count)
        _ = try model.forward(model.embed(prompt.prefixIDs), cache: cache, logitRows: [])
        let labelled = images.filter { $0.image.label != nil }
        var start = 0
        while start < labelled.count {
            let chunk = Array(labelled[start..<min(labelled.count, start + options.batchSize)])
            start += chunk.count
            let e = projector.forward(chunk.flatMap { $0.image.normalized() }).embeddings
            let replies: [[Int]]
            do {
                replies = try generateBatch(model: model, prompt: prompt, cache: cache, embeddings: e, count: chunk.count,
                                            samplers: chunk.map { Sampler(options.greedy ? .greedy : .seedEval(seed: options.seed &+ UInt64($0.index) &* 0x9E37_79B9)) },
                                            maxTokens: options.maxTokens, stops: stops)
            } catch is Interrupted {
                report.interrupted = true
                break
            }
            let d = model.config.dim
            for (b, item) in chunk.enumerated() {
                let label = item.image.label!
                let reply = tokenizer.decode(replies[b], skipSpecial: true)
                let row = EvalRow(index: item.index, label: label, reply: reply, predicted: Scoring.predictedDigit(reply),
                                  correct: Scoring.isCorrect(reply, label: label),
                                  cosine: cosineSimilarity(Array(e[(b * d)..<((b + 1) * d)]), digitEmbeddings[label]))
                report.rows.append(row)
                onRow(row)
            }
        }
        report.seconds = Clock.now() - t0
        return report
    }

    /// Generates replies for `count` image embeddings at once after the cached prefix:
    /// one forward call per token over the sequences still running.
    static func generateBatch(model: LlamaModel, prompt: MultimodalPrompt, cache: KVCache, embeddings e: [Float], count: Int,
                              samplers: [Sampler], maxTokens: Int, stops: Set<Int>) throws -> [[Int]] {
        let d = model.config.dim, vocab = model.config.vocabSize
        let prefix = prompt.prefixIDs.count
        let first = 1 + prompt.suffixIDs.count
        let stride = first + maxTokens
        var samplers = samplers
        cache.truncate(to: prefix)
        var rows: [Float] = []
        for b in 0..<count { rows += prompt.rowsAfterPrefix(model: model, image: Array(e[(b * d)..<((b + 1) * d)])) }
        var lengths = [Int](repeating: 0, count: count)
        var active = Array(0..<count)
        var news = [Int](repeating: first, count: count)
        var replies = [[Int]](repeating: [], count: count)
        var logits = try model.forward(rows, cache: cache, layout: .batch(prefix: prefix, stride: stride, done: lengths, new: news),
                                       logitRows: (0..<count).map { $0 * first + first - 1 })
        for b in 0..<count { lengths[b] = first }
        while !active.isEmpty {
            var next: [Int] = [], still: [Int] = []
            for (i, b) in active.enumerated() {
                let id = logits.withUnsafeBufferPointer { samplers[b].sample(UnsafeBufferPointer(rebasing: $0[(i * vocab)..<((i + 1) * vocab)])) }
                replies[b].append(id)
                if !stops.contains(id) && replies[b].count < maxTokens { still.append(b); next.append(id) }
            }
            active = still
            if active.isEmpty { break }
            try Interrupt.check()
            news = [Int](repeating: 0, count: count)
            for b in active { news[b] = 1 }
            logits = try model.forward(model.embed(next), cache: cache, layout: .batch(prefix: prefix, stride: stride, done: lengths, new: news),
                                       logitRows: Array(0..<active.count))
            for b in active { lengths[b] += 1 }
        }
        cache.truncate(to: prefix)
        return replies
    }
}

/// cos(a, b); 0 when either is empty or zero.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    var ab: Float = 0, aa: Float = 0, bb: Float = 0
    for i in 0..<a.count { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i] }
    return aa > 0 && bb > 0 ? ab / (aa.squareRoot() * bb.squareRoot()) : 0
}
