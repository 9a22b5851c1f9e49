// `project img N` / `project image NAME`: what the projector makes of a digit, in the LLM's own
// terms. The image embedding e = W·x + b sits where a token embedding would; comparing it with
// the embedding table (cosine) shows which tokens it "looks like" to the frozen model.
// `project digit=D` does the same for the mean embedding of a digit's training images.
import Llava

extension Interpreter {
    /// How many nearest vocabulary tokens `project` lists.
    static let nearestCount = 5

    func project(_ ref: ImageRef) throws {
        let image = try session.image(ref)
        if case .index(let i) = ref { currentImage = i }
        let e = try session.currentProjector().forward(image.normalized()).embeddings
        try describeEmbedding(e, title: caption(ref, image), label: image.label)
    }

    /// `project digit=D n=K`: the mean of the embeddings of the first K training images of D
    /// (for the linear projector, the embedding of their mean image, which is drawn first):
    /// where the projector puts "a typical D", free of any one image's quirks.
    func projectDigit(_ digit: Int, count: Int) throws {
        let train = try session.mnist().train
        let images = Array(train.images.lazy.filter { $0.label == digit }.prefix(count))
        guard images.count == count else {
            throw CommandError("the training split has only \(images.count) images labelled \(digit), not \(count)")
        }
        let projector = try session.currentProjector()
        let all = projector.forward(images.flatMap { $0.normalized() }).embeddings
        let d = projector.outputSize
        var e = [Float](repeating: 0, count: d)
        for k in 0..<count { for j in 0..<d { e[j] += all[k * d + j] } }
        e = e.map { $0 / Float(count) }

        var sums = [Int](repeating: 0, count: Projector.inputSize)
        for image in images { for (p, v) in image.pixels.enumerated() { sums[p] += Int(v) } }
        let mean = sums.map { UInt8(($0 + count / 2) / count) }
        let title = "mean of the first \(count) train images labelled \(digit)"
        display.figure(.digits([mean], captions: [title]), text: DigitRenderer.render(mean, mode: display.colorMode) + title)
        try describeEmbedding(e, title: "mean embedding of digit \(digit) (\(count) images)", label: digit)
    }

    /// The `project` report for an embedding e: its norm, the nearest vocabulary tokens by
    /// cosine, and a bar chart of the cosine to each digit token ("label" is marked).
    func describeEmbedding(_ e: [Float], title: String, label: Int?) throws {
        let m = try session.model()
        let tokenizer = try m.requireTokenizer()
        let norm = e.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()

        let nearest = nearestTokens(to: e, model: m.model, count: Self.nearestCount)
        let prompt = try session.prompt()
        let digits: [(label: String, value: Double)] = (0..<10).map { d in
            let row = prompt.digitTokenID(d).map { m.model.embed([$0]) } ?? []
            return ("\"\(d)\"", Double(cosineSimilarity(e, row)))
        }

        var lines = [title + ", projector \(session.projectorOrigin)",
                     "embedding norm \(formatFixed(Double(norm), 4)) (d_model \(e.count))",
                     "nearest tokens by cosine:"]
        for (rank, hit) in nearest.enumerated() {
            let text = tokenizer.decode([hit.id], skipSpecial: false).replacingEscapes()
            lines.append("  \(rank + 1). id \(String(hit.id).leftPadding(6))  \(formatFixed(Double(hit.cosine), 4))  \"\(text)\"")
        }
        lines.append("cosine to each digit token:")
        let marked: Set<String> = label.map { ["\"\($0)\""] } ?? []
        var chart = barChart(digits, width: 30, decimals: 4, unicode: display.colorMode != .none, marked: marked)
        if chart.hasSuffix("\n") { chart.removeLast() }
        lines.append(chart)
        display.line(lines.joined(separator: "\n"))
    }

    /// The `count` rows of the embedding table closest to `e` by cosine, best first. The dot
    /// products come from one pass of the engine's matrix-vector product over the stored
    /// (possibly quantized) table; the row norms are computed once per model by streaming
    /// the rows through `readRow`, so no float copy of the whole table is ever made.
    func nearestTokens(to e: [Float], model: LlamaModel, count: Int) -> [(id: Int, cosine: Float)] {
        let table = model.weights.tokenEmbedding
        let norms = embeddingRowNorms(model)
        var dots = [Float](repeating: 0, count: table.rows)
        dots.withUnsafeMutableBufferPointer { y in
            e.withUnsafeBufferPointer { x in matmul(y.baseAddress!, x.baseAddress!, n: 1, table) }
        }
        let eNorm = e.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        // A running top-k: k is tiny, so insertion into a sorted array beats a heap.
        var best: [(id: Int, cosine: Float)] = []
        for id in 0..<table.rows where norms[id] > 0 {
            let c = dots[id] / (norms[id] * max(eNorm, .leastNormalMagnitude))
            if best.count == count, c <= best[count - 1].cosine { continue }
            let at = best.firstIndex { c > $0.cosine } ?? best.count
            best.insert((id, c), at: at)
            if best.count > count { best.removeLast() }
        }
        return best
    }

    /// ‖row‖ for every row of the embedding table, cached for the loaded model.
    func embeddingRowNorms(_ model: LlamaModel) -> [Float] {
        let key = ObjectIdentifier(model)
        if let cached = embeddingNorms, cached.model == key { return cached.norms }
        let table = model.weights.tokenEmbedding
        let cols = table.cols
        let row = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        defer { row.deallocate() }
        var norms = [Float](repeating: 0, count: table.rows)
        for r in 0..<table.rows {
            readRow(table, r, into: row)
            var sum: Float = 0
            for j in 0..<cols { sum += row[j] * row[j] }
            norms[r] = sum.squareRoot()
        }
        embeddingNorms = (key, norms)
        return norms
    }
}
