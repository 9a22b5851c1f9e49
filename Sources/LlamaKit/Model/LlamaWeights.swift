// One name table maps both file layouts (llama.cpp GGUF and Hugging Face safetensors) onto
// `LlamaWeights`; the model code never sees a file name.

/// The tensors of one decoder layer.
public struct LayerWeights: Sendable {
    public let attnNorm: [Float]       // [dim]
    public let wq, wk, wv, wo: TensorView  // [qDim×dim], [kvDim×dim], [kvDim×dim], [dim×qDim]
    public let ffnNorm: [Float]        // [dim]
    public let gate, up, down: TensorView  // [hidden×dim], [hidden×dim], [dim×hidden]
}

/// Every tensor the forward pass reads.
public struct LlamaWeights: Sendable {
    public let tokenEmbedding: TensorView   // [vocab × dim]
    public let layers: [LayerWeights]
    public let outputNorm: [Float]          // [dim]
    public let output: TensorView           // [vocab × dim] (the embedding table when tied)
    /// llama.cpp's `rope_freqs.weight`: divisors of the RoPE frequencies (llama3 scaling in GGUF).
    public let ropeFreqDivisors: [Float]?
    /// How Q/K dims pair for RoPE in these weights (GGUF rows were permuted by the converter).
    public let ropePairing: RoPEPairing
}

extension LlamaWeights {
    /// Every weight matrix the products multiply with (the output head last).
    public var matrices: [TensorView] {
        layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.gate, $0.up, $0.down] } + [output]
    }
}

/// The roles of tensors, with their names in each layout.
enum TensorName {
    case tokenEmbedding, outputNorm, output, ropeFreqs
    case attnNorm(Int), q(Int), k(Int), v(Int), o(Int), ffnNorm(Int), gate(Int), up(Int), down(Int)

    var gguf: String {
        switch self {
        case .tokenEmbedding: "token_embd.weight"
        case .outputNorm: "output_norm.weight"
        case .output: "output.weight"
        case .ropeFreqs: "rope_freqs.weight"
        case .attnNorm(let l): "blk.\(l).attn_norm.weight"
        case .q(let l): "blk.\(l).attn_q.weight"
        case .k(let l): "blk.\(l).attn_k.weight"
        case .v(let l): "blk.\(l).attn_v.weight"
        case .o(let l): "blk.\(l).attn_output.weight"
        case .ffnNorm(let l): "blk.\(l).ffn_norm.weight"
        case .gate(let l): "blk.\(l).ffn_gate.weight"
        case .up(let l): "blk.\(l).ffn_up.weight"
        case .down(let l): "blk.\(l).ffn_down.weight"
        }
    }

    /// Hugging Face name, under `prefix` ("" for LlamaForCausalLM, "language_model." for LLaVA).
    func hf(_ prefix: String) -> String {
        switch self {
        case .tokenEmbedding: "\(prefix)model.embed_tokens.weight"
        case .outputNorm: "\(prefix)model.norm.weight"
        case .output: "\(prefix)lm_head.weight"
        case .ropeFreqs: "\(prefix)rope_freqs.weight"
        case .attnNorm(let l): "\(prefix)model.layers.\(l).input_layernorm.weight"
        case .q(let l): "\(prefix)model.layers.\(l).self_attn.q_proj.weight"
        case .k(let l): "\(prefix)model.layers.\(l).self_attn.k_proj.weight"
        case .v(let l): "\(prefix)model.layers.\(l).self_attn.v_proj.weight"
        case .o(let l): "\(prefix)model.layers.\(l).self_attn.o_proj.weight"
        case .ffnNorm(let l): "\(prefix)model.layers.\(l).post_attention_layernorm.weight"
        case .gate(let l): "\(prefix)model.layers.\(l).mlp.gate_proj.weight"
        case .up(let l): "\(prefix)model.layers.\(l).mlp.up_proj.weight"
        case .down(let l): "\(prefix)model.layers.\(l).mlp.down_proj.weight"
        }
    }
}

extension LlamaWeights {
    /// Collects the weights from a name → tensor lookup, checking every shape against `config`.
    static func load(config c: LlamaConfig, path: String, pairing: RoPEPairing,
                     lookup: (TensorName) -> TensorView?) throws -> LlamaWeights {
        func get(_ n: TensorName, rows: Int, cols: Int) throws -> TensorView {
            guard let t = lookup(n) else { throw FormatError(path, "missing tensor \(pairing == .adjacent ? n.gguf : n.hf(""))") }
            guard t.rows == rows, t.cols == cols else {
                throw FormatError(path, "tensor \(t.name) has shape \(t.rows)×\(t.cols), expected \(rows)×\(cols)")
            }
            return t
        }
        func vec(_ n: TensorName, _ len: Int) throws -> [Float] {
            try get(n, rows: 1, cols: len).toFloats()
        }
        var layers: [LayerWeights] = []
        for l in 0..<c.layers {
            layers.append(LayerWeights(
                attnNorm: try vec(.attnNorm(l), c.dim),
                wq: try get(.q(l), rows: c.qDim, cols: c.dim),
                wk: try get(.k(l), rows: c.kvDim, cols: c.dim),
                wv: try get(.v(l), rows: c.kvDim, cols: c.dim),
                wo: try get(.o(l), rows: c.dim, cols: c.qDim),
                ffnNorm: try vec(.ffnNorm(l), c.dim),
                gate: try get(.gate(l), rows: c.hiddenDim, cols: c.dim),
                up: try get(.up(l), rows: c.hiddenDim, cols: c.dim),
                down: try get(.down(l), rows: c.dim, cols: c.hiddenDim)))
        }
        let embedding = try get(.tokenEmbedding, rows: c.vocabSize, cols: c.dim)
        let output = c.tiedEmbeddings ? embedding : try get(.output, rows: c.vocabSize, cols: c.dim)
        // One divisor per rotated pair; a wrong length would scale only some frequencies.
        let freqs = try lookup(.ropeFreqs).map { _ in try vec(.ropeFreqs, c.headDim / 2) }
        return LlamaWeights(tokenEmbedding: embedding, layers: layers, outputNorm: try vec(.outputNorm, c.dim),
                            output: output, ropeFreqDivisors: freqs, ropePairing: pairing)
    }
}
