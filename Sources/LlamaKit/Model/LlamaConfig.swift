// The Llama hyper-parameters, decoded from the model's own files: GGUF metadata
// (`llama.*` keys) or a Hugging Face `config.json`. Nothing here is hard-coded per model.
import Foundation

/// Shapes and constants of a Llama-family model.
public struct LlamaConfig: Sendable, Equatable {
    public var dim: Int                 // d_model
    public var hiddenDim: Int           // FFN width
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var normEps: Float
    public var ropeTheta: Double
    /// Llama 3.1 ("llama3") frequency scaling, when the model uses it.
    public var ropeScaling: RoPEScaling?
    public var tiedEmbeddings: Bool
    public var bosID: Int?
    public var eosIDs: [Int]

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    public struct RoPEScaling: Sendable, Equatable {
        public var factor: Double
        public var lowFreqFactor: Double
        public var highFreqFactor: Double
        public var originalContext: Double
    }

    /// Reads `{arch}.*` keys of a GGUF file (llama.cpp's naming).
    public init(gguf: GGUFFile) throws {
        let m = gguf.metadata
        let arch = m["general.architecture"]?.string ?? "llama"
        guard ["llama", "mistral", "granite"].contains(arch) else {
            throw FormatError(gguf.path, "architecture '\(arch)' is not supported (Llama-family models only)")
        }
        func int(_ k: String) throws -> Int {
            guard let v = m["\(arch).\(k)"]?.int, v > 0 else {
                // Without general.architecture we assumed "llama"; say so rather than blame one key.
                if m["general.architecture"] == nil {
                    throw FormatError(gguf.path, "no general.architecture metadata and no llama.\(k): not a Llama-family model file")
                }
                throw FormatError(gguf.path, "missing or invalid metadata key \(arch).\(k)")
            }
            return v
        }
        dim = try int("embedding_length")
        hiddenDim = try int("feed_forward_length")
        layers = try int("block_count")
        heads = try int("attention.head_count")
        kvHeads = m["\(arch).attention.head_count_kv"]?.int ?? heads
        headDim = m["\(arch).attention.key_length"]?.int ?? dim / heads
        contextLength = m["\(arch).context_length"]?.int ?? 4096
        normEps = Float(m["\(arch).attention.layer_norm_rms_epsilon"]?.double ?? 1e-5)
        ropeTheta = m["\(arch).rope.freq_base"]?.double ?? 10000
        ropeScaling = nil // llama3 scaling travels as the `rope_freqs.weight` tensor in GGUF
        let embd = gguf.tensor("token_embd.weight")
        vocabSize = m["\(arch).vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count ?? embd?.rows ?? 0
        tiedEmbeddings = gguf.tensor("output.weight") == nil
        bosID = m["tokenizer.ggml.bos_token_id"]?.int
        eosIDs = m["tokenizer.ggml.eos_token_id"]?.int.map { [$0] } ?? []
        try validate(gguf.path)
    }

    /// Reads a Hugging Face `config.json` (a LlavaConfig's `text_config` works too).
    public init(json: [String: Any], path: String) throws {
        func int(_ k: String) throws -> Int {
            guard let v = (json[k] as? NSNumber)?.intValue, v > 0 else { throw FormatError(path, "missing or invalid \"\(k)\"") }
            return v
        }
        dim = try int("hidden_size")
        hiddenDim = try int("intermediate_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        kvHeads = (json["num_key_value_heads"] as? NSNumber)?.intValue ?? heads
        headDim = (json["head_dim"] as? NSNumber)?.intValue ?? dim / heads
        vocabSize = try int("vocab_size")
        contextLength = (json["max_position_embeddings"] as? NSNumber)?.intValue ?? 4096
        normEps = Float((json["rms_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-6)
        let params = json["rope_parameters"] as? [String: Any]
        ropeTheta = (json["rope_theta"] as? NSNumber)?.doubleValue ?? (params?["rope_theta"] as? NSNumber)?.doubleValue ?? 10000
        let scaling = (json["rope_scaling"] as? [String: Any]) ?? params
        if let s = scaling, (s["rope_type"] as? String ?? s["type"] as? String) == "llama3" {
            func d(_ k: String, _ def: Double) -> Double { (s[k] as? NSNumber)?.doubleValue ?? def }
            ropeScaling = RoPEScaling(factor: d("factor", 8), lowFreqFactor: d("low_freq_factor", 1),
                                      highFreqFactor: d("high_freq_factor", 4),
                                      originalContext: d("original_max_position_embeddings", 8192))
        } else {
            ropeScaling = nil
        }
        tiedEmbeddings = (json["tie_word_embeddings"] as? Bool) ?? false
        bosID = (json["bos_token_id"] as? NSNumber)?.intValue
        if let e = json["eos_token_id"] as? [NSNumber] { eosIDs = e.map(\.intValue) }
        else { eosIDs = (json["eos_token_id"] as? NSNumber).map { [$0.intValue] } ?? [] }
        try validate(path)
    }

    func validate(_ path: String) throws {
        // Checked first: a zero here would divide by zero below (a trap, or worse under -Ounchecked).
        guard kvHeads > 0, headDim > 0, vocabSize > 0 else {
            throw FormatError(path, "implausible model shape (KV heads \(kvHeads), head_dim \(headDim), vocab \(vocabSize))")
        }
        guard heads % kvHeads == 0 else { throw FormatError(path, "\(heads) attention heads are not a multiple of \(kvHeads) KV heads") }
        guard headDim % 2 == 0, headDim <= 1024, dim <= 65536, hiddenDim <= 1 << 20, layers <= 1024, vocabSize <= 1 << 22 else {
            throw FormatError(path, "implausible model shape (dim \(dim), head_dim \(headDim), layers \(layers), vocab \(vocabSize))")
        }
    }

    /// RoPE inverse frequencies for the pairs of a head (with llama3 scaling if configured).
    public func ropeInverseFrequencies(divisors: [Float]? = nil) -> [Double] {
        let half = headDim / 2
        return (0..<half).map { i -> Double in
            var f = 1 / pow(ropeTheta, Double(2 * i) / Double(headDim))
            if let d = divisors, i < d.count { f /= Double(d[i]) }
            if let s = ropeScaling {
                let lo = s.originalContext / s.lowFreqFactor, hi = s.originalContext / s.highFreqFactor
                let wavelength = 2 * Double.pi / f
                if wavelength > lo { f /= s.factor }
                else if wavelength >= hi {
                    let smooth = (s.originalContext / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
                    f = (1 - smooth) * f / s.factor + smooth * f
                }
            }
            return f
        }
    }
}
