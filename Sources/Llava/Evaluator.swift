// Evaluation as the seed does it: for each test image, generate a reply (sampled at
// temperature 0.6 / top-p 0.9, or greedy) of at most 20 tokens after the multimodal prompt,
// score it with the seed's rule, and report accuracy, per-digit accuracy, a confusion matrix
// and the cosine similarity between each image embedding and its label's digit token.

/// Settings of an evaluation run.
public struct EvalOptions: Sendable {
    public var greedy = false
    public var seed: UInt64 = 0
    public var maxTokens = 20
    public init(greedy: Bool = false, seed: UInt64 = 0, maxTokens: Int = 20) {
        self.greedy = greedy; self.seed = seed; self.maxTokens = maxTokens
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
    /// each is scored. Ctrl-C stops early and returns what was scored.
    public static func run(model: LlamaModel, tokenizer: any Tokenizer, prompt: MultimodalPrompt, projector: Projector,
                           images: [(index: Int, image: DigitImage)], options: EvalOptions,
                           onRow: (EvalRow) -> Void = { _ in }) throws -> EvalReport {
        let t0 = Clock.now()
        var report = EvalReport()
        let stops = prompt.format.stopTokens(tokenizer).union(tokenizer.eosID.map { [$0] } ?? [])
        let prefix = KVCache(config: model.config, capacity: prompt.prefixIDs.count + prompt.suffixIDs.count + options.maxTokens + 1)
        _ = try model.forward(model.embed(prompt.prefixIDs), cache: prefix, logitRows: [])
        let digitEmbeddings: [[Float]] = (0..<10).map { d in prompt.digitTokenID(d).map { model.embed([$0]) } ?? [] }
        for item in images {
            guard let label = item.image.label else { continue }
            let (e, _) = projector.forward(item.image.normalized())
            prefix.truncate(to: prompt.prefixIDs.count)
            let sampling = options.greedy ? SamplingParameters.greedy
                : SamplingParameters.seedEval(seed: options.seed &+ UInt64(item.index) &* 0x9E37_79B9)
            let gen: Generation
            do {
                gen = try model.generate(embeddings: prompt.rowsAfterPrefix(model: model, image: e), cache: prefix,
                                         maxTokens: options.maxTokens, stopTokens: stops, sampling: sampling)
            } catch is Interrupted {
                report.interrupted = true
                break
            }
            let reply = tokenizer.decode(gen.ids, skipSpecial: true)
            let row = EvalRow(index: item.index, label: label, reply: reply, predicted: Scoring.predictedDigit(reply),
                              correct: Scoring.isCorrect(reply, label: label), cosine: cosineSimilarity(e, digitEmbeddings[label]))
            report.rows.append(row)
            onRow(row)
        }
        report.seconds = Clock.now() - t0
        return report
    }
}

/// cos(a, b); 0 when either is empty or zero.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    var ab: Float = 0, aa: Float = 0, bb: Float = 0
    for i in 0..<a.count { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i] }
    return aa > 0 && bb > 0 ? ab / (aa.squareRoot() * bb.squareRoot()) : 0
}
