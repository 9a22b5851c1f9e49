// The Llama forward pass (after HF's LlamaForCausalLM and llama2.c's run.c): one readable
// layer loop over a chunk of new positions, with keys/values appended to a KVCache.
//
//   x = embeddings of the new positions                          (n, dim)
//   for each layer:
//     xb = rmsnorm(x) ; q,k,v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ ; rope(q,k) ; cache ← k,v
//     x += attention(q, cache)·Woᵀ
//     xb = rmsnorm(x) ; x += (silu(xb·Wgᵀ) ⊙ xb·Wuᵀ)·Wdᵀ
//   logits = rmsnorm(x)·Woutᵀ   (only at the rows asked for)
import Foundation

/// A loaded Llama-family model: configuration, weights and RoPE tables.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    public let weights: LlamaWeights
    /// cos/sin of position × inverse frequency, [position][headDim/2], grown on demand.
    private(set) var ropeCos: [Float] = []
    private(set) var ropeSin: [Float] = []
    private let inverseFrequencies: [Double]
    private let ropeLock = NSLock()

    public init(config: LlamaConfig, weights: LlamaWeights) {
        self.config = config
        self.weights = weights
        inverseFrequencies = config.ropeInverseFrequencies(divisors: weights.ropeFreqDivisors)
        ensureRoPE(positions: min(config.contextLength, 512))
    }

    /// Extends the cos/sin tables to cover `positions` positions.
    func ensureRoPE(positions: Int) {
        ropeLock.lock(); defer { ropeLock.unlock() }
        let half = config.headDim / 2
        let have = ropeCos.count / max(half, 1)
        guard positions > have else { return }
        let target = max(positions, have * 2)
        for p in have..<target {
            for f in inverseFrequencies {
                // float32 angle, as PyTorch computes position · inv_freq in float32
                let angle = Float(p) * Float(f)
                ropeCos.append(cos(angle))
                ropeSin.append(sin(angle))
            }
        }
    }

    // MARK: - Embeddings

    /// Input embedding rows for `tokens` ([tokens.count × dim]).
    public func embed(_ tokens: [Int]) -> [Float] {
        let d = config.dim
        var out = [Float](repeating: 0, count: tokens.count * d)
        out.withUnsafeMutableBufferPointer { o in
            for (i, t) in tokens.enumerated() { readRow(weights.tokenEmbedding, t, into: o.baseAddress! + i * d) }
        }
        return out
    }

    // MARK: - Forward

    /// Runs `n` new positions whose input embeddings are `x` ([n × dim]) after the positions
    /// already in `cache`, appends their keys and values to it, and returns the logits of
    /// the rows listed in `logitRows` (indices into the n new rows), [logitRows.count × vocab].
    /// With a `tape`, saves what the backward pass needs. With `interruptible`, a pending
    /// Ctrl-C stops the pass between layers (training turns this off and stops between steps).
    public func forward(_ x: [Float], cache: KVCache, logitRows: [Int], tape: ForwardTape? = nil, interruptible: Bool = true,
                        trace: ((String, Int, UnsafeBufferPointer<Float>) -> Void)? = nil) throws -> [Float] {
        let n = x.count / config.dim
        return try forward(x, cache: cache, layout: .sequence(start: cache.count, rows: n), logitRows: logitRows,
                           tape: tape, interruptible: interruptible, trace: trace)
    }

    /// The forward pass for rows placed in the cache by `layout` (one sequence, or a batch of
    /// sequences after a shared prefix).
    public func forward(_ x: [Float], cache: KVCache, layout: RowLayout, logitRows: [Int], tape: ForwardTape? = nil,
                        interruptible: Bool = true, trace: ((String, Int, UnsafeBufferPointer<Float>) -> Void)? = nil) throws -> [Float] {
        let c = config, d = c.dim
        let n = x.count / d
        precondition(x.count == n * d && n > 0 && layout.rows == n, "forward: input is not n × dim, or the layout has another row count")
        try cache.reserve(layout.endSlot)
        ensureRoPE(positions: layout.endPosition)
        tape?.begin(config: c, layout: layout)
        let maxVisible = layout.maxVisible

        var h = x                                                  // residual stream (n, dim)
        var xb = [Float](repeating: 0, count: n * d)
        var q = [Float](repeating: 0, count: n * c.qDim)
        var k = [Float](repeating: 0, count: n * c.kvDim)
        var v = [Float](repeating: 0, count: n * c.kvDim)
        var att = [Float](repeating: 0, count: n * c.qDim)
        var gate = [Float](repeating: 0, count: n * c.hiddenDim)
        var up = [Float](repeating: 0, count: n * c.hiddenDim)
        var hb = [Float](repeating: 0, count: n * max(c.hiddenDim, d))
        var rstd = [Float](repeating: 0, count: n)

        for l in 0..<c.layers {
            let w = weights.layers[l]
            tape?.layers[l].input = h
            // attention block: xb = rmsnorm(h); q, k, v = projections; rope; cache ← k, v
            rmsnormForward(&xb, &rstd, h, w.attnNorm, rows: n, d: d, eps: c.normEps)
            tape?.layers[l].rstd1 = rstd
            q.withUnsafeMutableBufferPointer { qp in k.withUnsafeMutableBufferPointer { kp in v.withUnsafeMutableBufferPointer { vp in
                matmul(xb, n: n, [(qp.baseAddress!, w.wq), (kp.baseAddress!, w.wk), (vp.baseAddress!, w.wv)])  // (n, qDim), (n, kvDim) ×2
            }}}
            ropeCos.withUnsafeBufferPointer { cp in ropeSin.withUnsafeBufferPointer { sp in
                ropeForward(&q, rows: n, heads: c.heads, hd: c.headDim, positions: layout.positions, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
                ropeForward(&k, rows: n, heads: c.kvHeads, hd: c.headDim, positions: layout.positions, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
            }}
            for r in 0..<n {
                (cache.keys[l] + layout.slots[r] * c.kvDim).update(from: k.withUnsafeBufferPointer { $0.baseAddress! + r * c.kvDim }, count: c.kvDim)
                (cache.values[l] + layout.slots[r] * c.kvDim).update(from: v.withUnsafeBufferPointer { $0.baseAddress! + r * c.kvDim }, count: c.kvDim)
            }
            if tape != nil {
                var probs = [Float](repeating: 0, count: c.heads * n * maxVisible)
                attention(out: &att, q: q, cache: cache, layer: l, layout: layout, probs: &probs, stride: maxVisible)
                tape!.layers[l].probs = probs
            } else {
                attention(out: &att, q: q, cache: cache, layer: l, layout: layout, probs: nil, stride: maxVisible)
            }
            if let t = tape { t.layers[l].xb1 = xb; t.layers[l].q = q; t.layers[l].att = att }
            matmul(&hb, att, n: n, w.wo)                               // (n, dim)
            h.withUnsafeMutableBufferPointer { hp in axpy(1, hb, hp.baseAddress!, n * d) }
            tape?.layers[l].mid = h

            // feed-forward block: xb = rmsnorm(h); h += down(silu(gate(xb)) ⊙ up(xb))
            rmsnormForward(&xb, &rstd, h, w.ffnNorm, rows: n, d: d, eps: c.normEps)
            tape?.layers[l].rstd2 = rstd
            gate.withUnsafeMutableBufferPointer { gp in up.withUnsafeMutableBufferPointer { up in
                matmul(xb, n: n, [(gp.baseAddress!, w.gate), (up.baseAddress!, w.up)])  // (n, hidden) ×2
            }}
            swigluForward(&hb, gate, up, n * c.hiddenDim)
            if let t = tape { t.layers[l].xb2 = xb; t.layers[l].gate = gate; t.layers[l].up = up; t.layers[l].act = Array(hb[0..<(n * c.hiddenDim)]) }
            var ffn = [Float](repeating: 0, count: n * d)
            matmul(&ffn, hb, n: n, w.down)                             // (n, dim)
            h.withUnsafeMutableBufferPointer { hp in axpy(1, ffn, hp.baseAddress!, n * d) }
            if let trace { h.withUnsafeBufferPointer { trace("residual", l, $0) } }
            if interruptible && l % 4 == 3 { try Interrupt.check() }
        }
        cache.count = max(cache.count, layout.endSlot)
        tape?.final = h

        // final norm and output head, only where logits are needed
        var sel = [Float](repeating: 0, count: logitRows.count * d)
        for (i, r) in logitRows.enumerated() { sel[(i * d)..<((i + 1) * d)] = h[(r * d)..<((r + 1) * d)] }
        var normed = [Float](repeating: 0, count: sel.count)
        rstd = [Float](repeating: 0, count: logitRows.count)
        rmsnormForward(&normed, &rstd, sel, weights.outputNorm, rows: logitRows.count, d: d, eps: c.normEps)
        if let trace { normed.withUnsafeBufferPointer { trace("final_norm", -1, $0) } }
        tape?.finalRstd = rstd
        tape?.logitRows = logitRows
        var logits = [Float](repeating: 0, count: logitRows.count * c.vocabSize)
        if !logitRows.isEmpty { matmul(&logits, normed, n: logitRows.count, weights.output) }
        return logits
    }

    /// Causal grouped-query attention of the new rows over the cache: row r sees the slots
    /// its layout allows. Query head h reads KV head h / (heads / kvHeads). Saves the
    /// probabilities ([head][row][stride]) when asked.
    func attention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, cache: KVCache, layer: Int,
                   layout: RowLayout, probs: UnsafeMutablePointer<Float>?, stride: Int) {
        let c = config, hd = c.headDim, group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let keys = cache.keys[layer], values = cache.values[layer]
        let rows = layout.rows
        Parallel.chunks(rows * c.heads) { j0, j1 in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(stride, 1))
            defer { scores.deallocate() }
            for j in j0..<j1 {
                let r = j / c.heads, h = j % c.heads, kvh = h / group
                let qv = q + r * c.qDim + h * hd
                let span = layout.visible(r)
                for t in 0..<span { scores[t] = dot(qv, keys + layout.slot(r, t) * c.kvDim + kvh * hd, hd) * scale }
                softmax(scores, span)
                let o = out + r * c.qDim + h * hd
                o.initialize(repeating: 0, count: hd)
                for t in 0..<span { axpy(scores[t], values + layout.slot(r, t) * c.kvDim + kvh * hd, o, hd) }
                if let probs { (probs + (h * rows + r) * stride).update(from: scores, count: span) }
            }
        }
    }
}
