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
        let c = config, d = c.dim
        let n = x.count / d
        precondition(x.count == n * d && n > 0, "forward: input is not n × dim")
        let p0 = cache.count
        try cache.reserve(p0 + n)
        ensureRoPE(positions: p0 + n)
        tape?.begin(config: c, rows: n, start: p0)

        var h = x                                                  // residual stream (n, dim)
        var xb = [Float](repeating: 0, count: n * d)
        var q = [Float](repeating: 0, count: n * c.qDim)
        var att = [Float](repeating: 0, count: n * c.qDim)
        var gate = [Float](repeating: 0, count: n * c.hiddenDim)
        var up = [Float](repeating: 0, count: n * c.hiddenDim)
        var hb = [Float](repeating: 0, count: n * max(c.hiddenDim, d))
        var rstd = [Float](repeating: 0, count: n)

        for l in 0..<c.layers {
            let w = weights.layers[l]
            tape?.layers[l].input = h
            // attention block: xb = rmsnorm(h)
            rmsnormForward(&xb, &rstd, h, w.attnNorm, rows: n, d: d, eps: c.normEps)
            tape?.layers[l].rstd1 = rstd
            matmul(&q, xb, n: n, w.wq)                                 // (n, qDim)
            let kRows = cache.keys[l] + p0 * c.kvDim, vRows = cache.values[l] + p0 * c.kvDim
            xb.withUnsafeBufferPointer { xbp in
                matmul(kRows, xbp.baseAddress!, n: n, w.wk)            // (n, kvDim) straight into the cache
                matmul(vRows, xbp.baseAddress!, n: n, w.wv)
            }
            ropeCos.withUnsafeBufferPointer { cp in ropeSin.withUnsafeBufferPointer { sp in
                ropeForward(&q, rows: n, heads: c.heads, hd: c.headDim, positions: p0, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
                ropeForward(kRows, rows: n, heads: c.kvHeads, hd: c.headDim, positions: p0, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
            }}
            if tape != nil {
                var probs = [Float](repeating: 0, count: c.heads * n * (p0 + n))
                attention(out: &att, q: q, cache: cache, layer: l, rows: n, start: p0, probs: &probs)
                tape!.layers[l].probs = probs
            } else {
                attention(out: &att, q: q, cache: cache, layer: l, rows: n, start: p0, probs: nil)
            }
            if let t = tape { t.layers[l].xb1 = xb; t.layers[l].q = q; t.layers[l].att = att }
            matmul(&hb, att, n: n, w.wo)                               // (n, dim)
            h.withUnsafeMutableBufferPointer { hp in axpy(1, hb, hp.baseAddress!, n * d) }
            tape?.layers[l].mid = h

            // feed-forward block: h += down(silu(gate(xb)) ⊙ up(xb)), xb = rmsnorm(h)
            rmsnormForward(&xb, &rstd, h, w.ffnNorm, rows: n, d: d, eps: c.normEps)
            tape?.layers[l].rstd2 = rstd
            matmul(&gate, xb, n: n, w.gate)                            // (n, hidden)
            matmul(&up, xb, n: n, w.up)
            swigluForward(&hb, gate, up, n * c.hiddenDim)
            if let t = tape { t.layers[l].xb2 = xb; t.layers[l].gate = gate; t.layers[l].up = up; t.layers[l].act = Array(hb[0..<(n * c.hiddenDim)]) }
            var ffn = [Float](repeating: 0, count: n * d)
            matmul(&ffn, hb, n: n, w.down)                             // (n, dim)
            h.withUnsafeMutableBufferPointer { hp in axpy(1, ffn, hp.baseAddress!, n * d) }
            if let trace { h.withUnsafeBufferPointer { trace("residual", l, $0) } }
            if interruptible && l % 4 == 3 { try Interrupt.check() }
        }
        cache.count = p0 + n
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

    /// Causal grouped-query attention of `rows` new queries (positions start..<start+rows)
    /// over the cache. Query head h reads KV head h / (heads / kvHeads).
    func attention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, cache: KVCache, layer: Int,
                   rows: Int, start: Int, probs: UnsafeMutablePointer<Float>?) {
        let c = config, hd = c.headDim, group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let keys = cache.keys[layer], values = cache.values[layer]
        let total = start + rows
        Parallel.chunks(rows * c.heads) { j0, j1 in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: total)
            defer { scores.deallocate() }
            for j in j0..<j1 {
                let r = j / c.heads, h = j % c.heads, kvh = h / group
                let qv = q + r * c.qDim + h * hd
                let span = start + r + 1                               // causal: positions 0...start+r
                for t in 0..<span { scores[t] = dot(qv, keys + t * c.kvDim + kvh * hd, hd) * scale }
                softmax(scores, span)
                let o = out + r * c.qDim + h * hd
                o.initialize(repeating: 0, count: hd)
                for t in 0..<span { axpy(scores[t], values + t * c.kvDim + kvh * hd, o, hd) }
                if let probs { (probs + (h * rows + r) * total).update(from: scores, count: span) }
            }
        }
    }
}
