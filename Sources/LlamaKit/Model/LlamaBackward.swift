// The backward pass of the frozen Llama: the mirror of `forward`, layer by layer in reverse,
// from dL/dlogits at the answer positions to dL/d(input embeddings) of the rows the forward
// call computed. The weights get no gradient; rows before the tape's `start` (a cached
// prefix) are constants, so their keys and values receive none either.
//
//   dnormed = dlogits·Wout ; dh[logit rows] = rmsnorm_backward(dnormed)
//   for each layer, last to first:
//     dact = dh·Wd ; dgate, dup = swiglu_backward(dact) ; dxb = dgate·Wg + dup·Wu
//     dh += rmsnorm_backward(dxb)                         (through the FFN norm)
//     datt = dh·Wo ; dq, dk, dv = attention_backward(datt) ; rope_backward(dq, dk)
//     dxb = dq·Wq + dk·Wk + dv·Wv ; dh += rmsnorm_backward(dxb)   (through the attention norm)
//   return dh

extension LlamaModel {
    /// dL/d(input rows) of the forward call recorded in `tape`, given dL/dlogits at its
    /// logit rows ([logitRows.count × vocab]). `cache` must be the one that call filled.
    public func backward(tape: ForwardTape, dLogits: [Float], cache: KVCache) throws -> [Float] {
        let c = config, d = c.dim, n = tape.rows
        var dh = [Float](repeating: 0, count: n * d)

        // output head and final norm, at the logit rows only
        let k = tape.logitRows.count
        var dnormed = [Float](repeating: 0, count: k * d)
        matmulBackward(&dnormed, dLogits, n: k, weights.output)
        var sel = [Float](repeating: 0, count: k * d)
        for (i, r) in tape.logitRows.enumerated() { sel[(i * d)..<((i + 1) * d)] = tape.final[(r * d)..<((r + 1) * d)] }
        var dsel = [Float](repeating: 0, count: k * d)
        rmsnormBackward(&dsel, dnormed, sel, weights.outputNorm, tape.finalRstd, rows: k, d: d)
        for (i, r) in tape.logitRows.enumerated() {
            for j in 0..<d { dh[r * d + j] += dsel[i * d + j] }
        }

        var dxb = [Float](repeating: 0, count: n * d)
        var dact = [Float](repeating: 0, count: n * c.hiddenDim)
        var dgate = [Float](repeating: 0, count: n * c.hiddenDim)
        var dup = [Float](repeating: 0, count: n * c.hiddenDim)
        var datt = [Float](repeating: 0, count: n * c.qDim)
        var dq = [Float](repeating: 0, count: n * c.qDim)
        var dk = [Float](repeating: 0, count: n * c.kvDim)
        var dv = [Float](repeating: 0, count: n * c.kvDim)
        // which new row wrote each cache slot (-1: a constant, e.g. the shared prefix)
        var rowOfSlot = [Int](repeating: -1, count: tape.layout.endSlot)
        for (r, slot) in tape.layout.slots.enumerated() { rowOfSlot[slot] = r }

        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let w = weights.layers[l], t = tape.layers[l]
            // feed-forward block
            zero(&dact); matmulBackward(&dact, dh, n: n, w.down)
            swigluBackward(&dgate, &dup, dact, t.gate, t.up, n * c.hiddenDim)
            zero(&dxb)
            dgate.withUnsafeBufferPointer { g in dup.withUnsafeBufferPointer { u in
                matmulBackward(&dxb, n: n, [(g.baseAddress!, w.gate), (u.baseAddress!, w.up)])
            }}
            rmsnormBackward(&dh, dxb, t.mid, w.ffnNorm, t.rstd2, rows: n, d: d)

            // attention block
            zero(&datt); matmulBackward(&datt, dh, n: n, w.wo)
            attentionBackward(dq: &dq, dk: &dk, dv: &dv, datt: datt, q: t.q, probs: t.probs,
                              cache: cache, layer: l, layout: tape.layout, rowOfSlot: rowOfSlot)
            ropeCos.withUnsafeBufferPointer { cp in ropeSin.withUnsafeBufferPointer { sp in
                ropeBackward(&dq, rows: n, heads: c.heads, hd: c.headDim, positions: tape.layout.positions, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
                ropeBackward(&dk, rows: n, heads: c.kvHeads, hd: c.headDim, positions: tape.layout.positions, cos: cp.baseAddress!, sin: sp.baseAddress!, pairing: weights.ropePairing)
            }}
            zero(&dxb)
            dq.withUnsafeBufferPointer { q in dk.withUnsafeBufferPointer { k in dv.withUnsafeBufferPointer { v in
                matmulBackward(&dxb, n: n, [(q.baseAddress!, w.wq), (k.baseAddress!, w.wk), (v.baseAddress!, w.wv)])
            }}}
            rmsnormBackward(&dh, dxb, t.input, w.attnNorm, t.rstd1, rows: n, d: d)
        }
        return dh
    }

    /// Mirror of `attention`: from dL/d(attention output) to dL/dq of the new rows and
    /// dL/dk, dL/dv of the cache slots they wrote (other slots are constants).
    /// Work is split by KV head so that each worker owns its dk/dv columns.
    func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                           datt: UnsafePointer<Float>, q: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                           cache: KVCache, layer: Int, layout: RowLayout, rowOfSlot: [Int]) {
        let c = config, hd = c.headDim, group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let keys = cache.keys[layer], values = cache.values[layer]
        let rows = layout.rows, stride = layout.maxVisible
        dq.initialize(repeating: 0, count: rows * c.qDim)
        dk.initialize(repeating: 0, count: rows * c.kvDim)
        dv.initialize(repeating: 0, count: rows * c.kvDim)
        rowOfSlot.withUnsafeBufferPointer { owner in
        Parallel.chunks(c.kvHeads) { g0, g1 in
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: max(stride, 1))
            defer { dp.deallocate() }
            for kvh in g0..<g1 {
                for h in (kvh * group)..<((kvh + 1) * group) {
                    for r in 0..<rows {
                        let p = probs + (h * rows + r) * stride
                        let dout = datt + r * c.qDim + h * hd
                        let qv = q + r * c.qDim + h * hd
                        let span = layout.visible(r)
                        var sum: Float = 0
                        for t in 0..<span {
                            let slot = layout.slot(r, t)
                            dp[t] = dot(dout, values + slot * c.kvDim + kvh * hd, hd)
                            sum += p[t] * dp[t]
                            let w = owner[slot]
                            if w >= 0 { axpy(p[t], dout, dv + w * c.kvDim + kvh * hd, hd) }
                        }
                        let dqv = dq + r * c.qDim + h * hd
                        for t in 0..<span {
                            let slot = layout.slot(r, t)
                            let ds = p[t] * (dp[t] - sum) * scale
                            axpy(ds, keys + slot * c.kvDim + kvh * hd, dqv, hd)
                            let w = owner[slot]
                            if w >= 0 { axpy(ds, qv, dk + w * c.kvDim + kvh * hd, hd) }
                        }
                    }
                }
            }
        }
        }
    }
}

@inline(__always) func zero(_ a: inout [Float]) {
    a.withUnsafeMutableBufferPointer { $0.initialize(repeating: 0) }
}

/// Mean next-token cross-entropy over `targets` (one per logit row) and its gradient
/// dL/dlogits ([rows × vocab]).
public func crossEntropy(logits: [Float], targets: [Int], vocab: Int) -> (loss: Float, dLogits: [Float]) {
    var dl = [Float](repeating: 0, count: logits.count)
    var loss: Double = 0
    let scale = 1 / Float(targets.count)
    logits.withUnsafeBufferPointer { lp in
        dl.withUnsafeMutableBufferPointer { dp in
            for (i, target) in targets.enumerated() {
                let row = lp.baseAddress! + i * vocab, out = dp.baseAddress! + i * vocab
                var m = -Float.infinity
                for j in 0..<vocab { m = max(m, row[j]) }
                var s: Double = 0
                for j in 0..<vocab { let e = expf(row[j] - m); out[j] = e; s += Double(e) }
                loss += log(s) + Double(m) - Double(row[target])
                let inv = Float(1 / s)
                for j in 0..<vocab { out[j] *= inv * scale }
                out[target] -= scale
            }
        }
    }
    return (Float(loss / Double(targets.count)), dl)
}

#if canImport(Glibc)
import Glibc
#endif
