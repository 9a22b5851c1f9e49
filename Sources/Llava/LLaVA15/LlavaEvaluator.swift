// The seed's evaluate_llava.py on our engine: llava-1.5 asked `{question}` about each test
// image with the prompt `USER: <image>\n{question} ASSISTANT:`, greedy, at most 15 new
// tokens, stopping at EOS, scored by the same rule as `eval` (Scoring).

/// Evaluation of a LLaVA model on MNIST digits.
public enum LlavaEvaluator {
    /// The seed's limit on new tokens for the baseline.
    public static let maxNewTokens = 15

    /// Asks about each image in order and scores the replies. `onRow` sees each scored row
    /// with the answer (ids, timings). Ctrl-C stops early and returns what was scored.
    /// `EvalRow.cosine` is 0: the baseline has no single image embedding to compare.
    public static func run(model: LlavaModel, images: [(index: Int, image: DigitImage)], question: String,
                           maxTokens: Int = maxNewTokens, onRow: (EvalRow, LlavaAnswer) -> Void = { _, _ in }) throws -> EvalReport {
        let t0 = Clock.now()
        var report = EvalReport()
        for item in images {
            guard let label = item.image.label else { continue }
            let answer: LlavaAnswer
            do {
                try Interrupt.check()
                answer = try model.answer(question: question, image: item.image, maxTokens: maxTokens)
            } catch is Interrupted {
                report.interrupted = true
                break
            }
            let row = EvalRow(index: item.index, label: label, reply: answer.text, predicted: Scoring.predictedDigit(answer.text),
                              correct: Scoring.isCorrect(answer.text, label: label), cosine: 0)
            report.rows.append(row)
            onRow(row, answer)
        }
        report.seconds = Clock.now() - t0
        return report
    }

    /// Vision tower throughput (preprocessing + CLIP up to the feature layer + projector),
    /// images per second over `images`, after one warm-up image.
    public static func visionImagesPerSecond(model: LlavaModel, images: [DigitImage]) throws -> Double {
        guard let first = images.first else { return 0 }
        _ = try model.imageEmbeddings(first)
        let t0 = Clock.now()
        for image in images { _ = try model.imageEmbeddings(image) }
        return Double(images.count) / max(Clock.now() - t0, 1e-9)
    }
}
