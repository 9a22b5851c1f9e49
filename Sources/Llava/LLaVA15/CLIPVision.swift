// The CLIP vision transformer of LLaVA-1.5 (after transformers' modeling_clip.py), forward
// only, float32, one small type per layer:
//
//   patches  = pixel_values cut into 14×14 patches, each flattened [channel][dy][dx]
//   h        = [class_embedding ; patches · Wpatchᵀ] + position_embedding   (1 + P rows)
//   h        = pre_layrnorm(h)                       ← hidden state 0
//   per layer: h += out(attn(ln1(h)));  h += fc2(act(fc1(ln2(h))))  ← hidden state l + 1
//
// LLaVA reads one hidden state (`vision_feature_layer`, −2 = the input of the last layer)
// and never applies post_layernorm. Linear layers keep their stored weights (F32/F16/BF16)
// and go through the engine's `matmul`; attention is two sgemm per head.
import Foundation

/// `vision_config` of a LLaVA `config.json`.
public struct CLIPVisionConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public var layerNormEps: Float
    /// "quick_gelu" (CLIP) or "gelu".
    public var activation: String

    /// CLIP ViT-L/14 at 336 px, LLaVA-1.5's tower; llava-hf's config.json omits most fields.
    public static let vitL14_336 = CLIPVisionConfig(hiddenSize: 1024, intermediateSize: 4096, layers: 24, heads: 16, imageSize: 336,
                                                    patchSize: 14, channels: 3, layerNormEps: 1e-5, activation: "quick_gelu")

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, imageSize: Int, patchSize: Int,
                channels: Int, layerNormEps: Float, activation: String) {
        self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize; self.layers = layers; self.heads = heads
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
        self.layerNormEps = layerNormEps; self.activation = activation
    }

    /// Fields present in `json` override ViT-L/14-336's (transformers' defaults differ, but
    /// llava-hf configs name every field that differs from ViT-L/14-336 or rely on them).
    public init(json: [String: Any], path: String) throws {
        var c = Self.vitL14_336
        func int(_ k: String) -> Int? { (json[k] as? NSNumber)?.intValue }
        c.hiddenSize = int("hidden_size") ?? c.hiddenSize
        c.intermediateSize = int("intermediate_size") ?? c.intermediateSize
        c.layers = int("num_hidden_layers") ?? c.layers
        c.heads = int("num_attention_heads") ?? c.heads
        c.imageSize = int("image_size") ?? c.imageSize
        c.patchSize = int("patch_size") ?? c.patchSize
        c.channels = int("num_channels") ?? c.channels
        c.layerNormEps = (json["layer_norm_eps"] as? NSNumber)?.floatValue ?? c.layerNormEps
        c.activation = json["hidden_act"] as? String ?? c.activation
        guard c.hiddenSize > 0, c.heads > 0, c.hiddenSize % c.heads == 0, c.layers > 0, c.patchSize > 0,
              c.imageSize % c.patchSize == 0, c.channels == 3, c.intermediateSize > 0 else {
            throw FormatError(path, "vision_config is inconsistent (hidden \(c.hiddenSize), heads \(c.heads), image \(c.imageSize), patch \(c.patchSize), channels \(c.channels))")
        }
        guard ["quick_gelu", "gelu"].contains(c.activation) else {
            throw FormatError(path, "vision_config.hidden_act \(c.activation) is not supported (quick_gelu or gelu)")
        }
        self = c
    }

    public var gridSide: Int { imageSize / patchSize }
    /// Patches per image (576 for ViT-L/14 at 336 px).
    public var patches: Int { gridSide * gridSide }
    public var patchValues: Int { channels * patchSize * patchSize }
}

/// Looks tensors up under one name prefix, with clear errors for missing or misshapen ones.
struct WeightSource {
    let tensors: [String: TensorView]
    let prefix: String
    let path: String

    /// A tensor with the given PyTorch shape (outermost first).
    func tensor(_ name: String, _ shape: [Int]) throws -> TensorView {
        guard let t = tensors[prefix + name] else { throw FormatError(path, "missing tensor \(prefix + name)") }
        guard Array(t.shape.reversed()) == shape else {
            throw FormatError(path, "tensor \(prefix + name) has shape \(Array(t.shape.reversed())), expected \(shape)")
        }
        return t
    }

    func floats(_ name: String, _ shape: [Int]) throws -> [Float] { try tensor(name, shape).toFloats() }

    func scoped(_ sub: String) -> WeightSource { WeightSource(tensors: tensors, prefix: prefix + sub, path: path) }
}

/// A Linear layer with bias: y = x·Wᵀ + b.
struct CLIPLinear {
    let weight: TensorView
    let bias: [Float]

    init(_ w: WeightSource, _ name: String, out: Int, in inputs: Int) throws {
        weight = try w.tensor(name + ".weight", [out, inputs])
        bias = try w.floats(name + ".bias", [out])
    }

    func callAsFunction(_ x: [Float], rows n: Int) -> [Float] {
        let out = weight.rows
        var y = [Float](repeating: 0, count: n * out)
        matmul(&y, x, n: n, weight)
        y.withUnsafeMutableBufferPointer { p in
            for r in 0..<n { for j in 0..<out { p[r * out + j] += bias[j] } }
        }
        return y
    }
}

/// LayerNorm over the last dimension (statistics in float64, then float32).
struct CLIPLayerNorm {
    let weight: [Float]
    let bias: [Float]
    let eps: Float

    init(_ w: WeightSource, _ name: String, dim: Int, eps: Float) throws {
        weight = try w.floats(name + ".weight", [dim])
        bias = try w.floats(name + ".bias", [dim])
        self.eps = eps
    }

    func callAsFunction(_ x: [Float]) -> [Float] {
        let d = weight.count, n = x.count / d
        var y = [Float](repeating: 0, count: x.count)
        for r in 0..<n {
            var mean = 0.0, sq = 0.0
            for j in 0..<d { mean += Double(x[r * d + j]) }
            mean /= Double(d)
            for j in 0..<d { let t = Double(x[r * d + j]) - mean; sq += t * t }
            let rstd = 1 / (sq / Double(d) + Double(eps)).squareRoot()
            for j in 0..<d { y[r * d + j] = Float((Double(x[r * d + j]) - mean) * rstd) * weight[j] + bias[j] }
        }
        return y
    }
}

/// Multi-head self-attention without a mask (every patch sees every patch).
struct CLIPAttention {
    let q, k, v, out: CLIPLinear
    let heads: Int

    init(_ w: WeightSource, dim: Int, heads: Int) throws {
        q = try CLIPLinear(w, "q_proj", out: dim, in: dim)
        k = try CLIPLinear(w, "k_proj", out: dim, in: dim)
        v = try CLIPLinear(w, "v_proj", out: dim, in: dim)
        out = try CLIPLinear(w, "out_proj", out: dim, in: dim)
        self.heads = heads
    }

    func callAsFunction(_ x: [Float], rows n: Int) -> [Float] {
        let d = q.weight.rows, hd = d / heads
        let qs = q(x, rows: n), ks = k(x, rows: n), vs = v(x, rows: n)
        var ctx = [Float](repeating: 0, count: n * d)
        let scale = 1 / Float(hd).squareRoot()
        qs.withUnsafeBufferPointer { qp in ks.withUnsafeBufferPointer { kp in vs.withUnsafeBufferPointer { vp in
            ctx.withUnsafeMutableBufferPointer { cp in
                let (qb, kb, vb, cb) = (qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, cp.baseAddress!)
                Parallel.chunks(heads) { h0, h1 in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
                    defer { scores.deallocate() }
                    for h in h0..<h1 {
                        let o = h * hd
                        // scores = scale · Q_h K_hᵀ  (n × n); ctx_h = softmax(scores) · V_h  (n × hd)
                        BLAS.sgemm(transB: true, m: n, n: n, k: hd, alpha: scale, qb + o, lda: d, kb + o, ldb: d,
                                   scores, ldc: n)
                        for r in 0..<n { softmax(scores + r * n, n) }
                        BLAS.sgemm(m: n, n: hd, k: n, scores, lda: n, vb + o, ldb: d, cb + o, ldc: d)
                    }
                }
            }
        }}}
        return out(ctx, rows: n)
    }
}

/// fc2(act(fc1(x))) with CLIP's quick GELU, x·σ(1.702x) (or exact GELU if configured).
struct CLIPMLP {
    let fc1, fc2: CLIPLinear
    let quick: Bool

    init(_ w: WeightSource, dim: Int, hidden: Int, activation: String) throws {
        fc1 = try CLIPLinear(w, "fc1", out: hidden, in: dim)
        fc2 = try CLIPLinear(w, "fc2", out: dim, in: hidden)
        quick = activation == "quick_gelu"
    }

    func callAsFunction(_ x: [Float], rows n: Int) -> [Float] {
        var h = fc1(x, rows: n)
        if quick { for i in h.indices { h[i] = h[i] / (1 + expf(-1.702 * h[i])) } } else { for i in h.indices { h[i] = gelu(h[i]) } }   // exact GELU, as the projector's
        return fc2(h, rows: n)
    }
}

/// One pre-norm encoder layer.
struct CLIPEncoderLayer {
    let norm1, norm2: CLIPLayerNorm
    let attention: CLIPAttention
    let mlp: CLIPMLP

    init(_ w: WeightSource, _ c: CLIPVisionConfig) throws {
        norm1 = try CLIPLayerNorm(w, "layer_norm1", dim: c.hiddenSize, eps: c.layerNormEps)
        norm2 = try CLIPLayerNorm(w, "layer_norm2", dim: c.hiddenSize, eps: c.layerNormEps)
        attention = try CLIPAttention(w.scoped("self_attn."), dim: c.hiddenSize, heads: c.heads)
        mlp = try CLIPMLP(w.scoped("mlp."), dim: c.hiddenSize, hidden: c.intermediateSize, activation: c.activation)
    }

    func callAsFunction(_ h: inout [Float], rows n: Int) {
        let a = attention(norm1(h), rows: n)
        for i in h.indices { h[i] += a[i] }
        let m = mlp(norm2(h), rows: n)
        for i in h.indices { h[i] += m[i] }
    }
}

/// Class token, patch "convolution" (a matmul over flattened patches) and positions.
struct CLIPEmbeddings {
    let config: CLIPVisionConfig
    let classEmbedding: [Float]
    /// The conv kernel `[d, 3, p, p]` viewed as a `[d × 3p²]` Linear weight.
    let patchWeight: TensorView
    let positions: [Float]

    init(_ w: WeightSource, _ c: CLIPVisionConfig) throws {
        config = c
        classEmbedding = try w.floats("class_embedding", [c.hiddenSize])
        let conv = try w.tensor("patch_embedding.weight", [c.hiddenSize, c.channels, c.patchSize, c.patchSize])
        patchWeight = TensorView(name: conv.name, type: conv.type, shape: [c.patchValues, c.hiddenSize],
                                 data: conv.data, byteCount: conv.byteCount, owner: conv.owner)
        positions = try w.floats("position_embedding.weight", [c.patches + 1, c.hiddenSize])
    }

    /// `[1 + P, d]` embeddings for pixel values `[3][S][S]`.
    func callAsFunction(_ pixels: [Float]) -> [Float] {
        let c = config, d = c.hiddenSize, p = c.patchSize, g = c.gridSide, s = c.imageSize
        var flat = [Float](repeating: 0, count: c.patches * c.patchValues)
        for r in 0..<g { for col in 0..<g {
            let base = (r * g + col) * c.patchValues
            for ch in 0..<c.channels { for dy in 0..<p { for dx in 0..<p {
                flat[base + (ch * p + dy) * p + dx] = pixels[(ch * s + r * p + dy) * s + col * p + dx]
            }}}
        }}
        var h = [Float](repeating: 0, count: (c.patches + 1) * d)
        h.withUnsafeMutableBufferPointer { hp in matmul(hp.baseAddress! + d, flat, n: c.patches, patchWeight) }
        for j in 0..<d { h[j] = classEmbedding[j] }
        for i in h.indices { h[i] += positions[i] }
        return h
    }
}

/// The vision tower: embeddings, pre-LayerNorm, encoder layers.
public struct CLIPVisionTower: @unchecked Sendable {
    public let config: CLIPVisionConfig
    let embeddings: CLIPEmbeddings
    let preNorm: CLIPLayerNorm
    let layers: [CLIPEncoderLayer]

    /// Name prefixes of the tower in LLaVA checkpoints: llava-hf on the Hub, transformers 5's
    /// `save_pretrained`, and their in-memory `model.` forms.
    static let prefixes = ["vision_tower.vision_model.", "vision_tower.", "model.vision_tower.vision_model.", "model.vision_tower."]

    /// Builds the tower from a checkpoint's tensors; only the first `keepLayers` encoder layers
    /// are read (LLaVA never runs the layers after the one it takes features from).
    init(tensors: [String: TensorView], config c: CLIPVisionConfig, keepLayers: Int, path: String) throws {
        guard let prefix = Self.prefixes.first(where: { tensors[$0 + "embeddings.class_embedding"] != nil }) else {
            throw FormatError(path, "no CLIP vision tower: none of \(Self.prefixes.map { $0 + "embeddings.class_embedding" }) is in the safetensors files")
        }
        let w = WeightSource(tensors: tensors, prefix: prefix, path: path)
        config = c
        embeddings = try CLIPEmbeddings(w.scoped("embeddings."), c)
        // "pre_layrnorm" (sic) is the name CLIP's code and checkpoints use.
        preNorm = try CLIPLayerNorm(w, "pre_layrnorm", dim: c.hiddenSize, eps: c.layerNormEps)
        layers = try (0..<keepLayers).map { try CLIPEncoderLayer(w.scoped("encoder.layers.\($0)."), c) }
    }

    /// Hidden states `[1 + P, d]` number `index` for pixel values `[3][S][S]`: 0 is after
    /// pre_layrnorm, l + 1 after encoder layer l. Interruptible between layers.
    public func hiddenState(_ pixels: [Float], index: Int) throws -> [Float] {
        try hiddenStates(pixels, indices: [index])[0]
    }

    /// Several hidden states from one pass, in the order of `indices`.
    public func hiddenStates(_ pixels: [Float], indices: [Int]) throws -> [[Float]] {
        precondition(indices.allSatisfy { $0 >= 0 && $0 <= layers.count }, "hidden states \(indices) reach beyond the \(layers.count) layers loaded")
        let n = config.patches + 1
        var h = preNorm(embeddings(pixels))
        var kept: [Int: [Float]] = [0: h]
        for l in 0..<(indices.max() ?? 0) {
            try Interrupt.check()
            layers[l](&h, rows: n)
            if indices.contains(l + 1) { kept[l + 1] = h }
        }
        return indices.map { kept[$0]! }
    }
}
