// What the forward pass saves for the backward pass (llm.c's activations), per layer, for
// the rows computed in one `forward` call. Cache slots not written by that call (a cached
// prefix) are constants: no gradient flows into them.

/// Saved activations of one layer, each [rows × width] row-major.
public struct LayerTape: Sendable {
    var input: [Float] = []   // residual stream entering the layer (rows, dim)
    var rstd1: [Float] = []   // 1/rms of the attention norm (rows)
    var xb1: [Float] = []     // attention norm output (rows, dim)
    var q: [Float] = []       // queries after RoPE (rows, qDim)
    var probs: [Float] = []   // attention probabilities (heads, rows, layout.maxVisible)
    var att: [Float] = []     // attention output before Wo (rows, qDim)
    var mid: [Float] = []     // residual after attention (rows, dim)
    var rstd2: [Float] = []   // 1/rms of the FFN norm (rows)
    var xb2: [Float] = []     // FFN norm output (rows, dim)
    var gate: [Float] = []    // (rows, hidden)
    var up: [Float] = []      // (rows, hidden)
    var act: [Float] = []     // silu(gate) ⊙ up (rows, hidden)
}

/// A recording of one forward call, consumed by `LlamaModel.backward`.
public final class ForwardTape: @unchecked Sendable {
    public internal(set) var layout = RowLayout.sequence(start: 0, rows: 0)
    public var rows: Int { layout.rows }
    var layers: [LayerTape] = []
    var final: [Float] = []        // residual stream after the last layer (rows, dim)
    var finalRstd: [Float] = []    // 1/rms of the final norm at the logit rows
    var logitRows: [Int] = []

    public init() {}

    func begin(config: LlamaConfig, layout: RowLayout) {
        self.layout = layout
        layers = Array(repeating: LayerTape(), count: config.layers)
    }
}
