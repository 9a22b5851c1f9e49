// LLaVA-1.5 as llava-hf ships it (after transformers' modeling_llava.py): CLIP ViT-L/14-336
// features from the second-to-last layer without the class token, a 2-layer GELU projector,
// and a Llama (Vicuna) language model that reads the projected patches in place of the
// `<image>` token of `USER: <image>\n{question} ASSISTANT:`.
import Foundation

/// The LLaVA-level fields of `config.json`.
public struct LlavaConfig: Sendable, Equatable {
    public var vision: CLIPVisionConfig
    /// Id of `<image>` (32000 in llava-1.5-7b-hf).
    public var imageTokenIndex: Int
    /// Hidden states the features come from (negative: from the end); several are concatenated.
    public var featureLayers: [Int]
    /// "default" drops the class token, "full" keeps it.
    public var selectStrategy: String
    public var projectorActivation: String
    public var projectorBias: Bool

    /// Reads `config.json`; a config without `vision_config` is not a LLaVA model.
    public init(json: [String: Any], path: String) throws {
        guard let vision = json["vision_config"] as? [String: Any] else {
            throw FormatError(path, "not a LLaVA model: config.json has no vision_config (model_type \(json["model_type"] as? String ?? "?")); eval-llava needs a llava-hf folder such as llava-hf/llava-1.5-7b-hf")
        }
        guard json["text_config"] is [String: Any] else { throw FormatError(path, "not a LLaVA model: config.json has no text_config") }
        self.vision = try CLIPVisionConfig(json: vision, path: path)
        imageTokenIndex = (json["image_token_index"] as? NSNumber ?? json["image_token_id"] as? NSNumber)?.intValue ?? 32000
        if let one = json["vision_feature_layer"] as? NSNumber { featureLayers = [one.intValue] }
        else if let many = json["vision_feature_layer"] as? [NSNumber], !many.isEmpty { featureLayers = many.map(\.intValue) }
        else { featureLayers = [-2] }
        selectStrategy = json["vision_feature_select_strategy"] as? String ?? "default"
        projectorActivation = json["projector_hidden_act"] as? String ?? "gelu"
        projectorBias = json["multimodal_projector_bias"] as? Bool ?? true
        guard ["default", "full"].contains(selectStrategy) else {
            throw FormatError(path, "vision_feature_select_strategy \(selectStrategy) is not supported (default or full)")
        }
        guard projectorActivation == "gelu" else {
            throw FormatError(path, "projector_hidden_act \(projectorActivation) is not supported (gelu)")
        }
        let states = self.vision.layers + 1
        guard featureLayers.allSatisfy({ (-states..<states).contains($0) }) else {
            throw FormatError(path, "vision_feature_layer \(featureLayers) is outside the tower's \(states) hidden states")
        }
    }

    /// Feature layers as indices into the hidden states (0 = after pre_layrnorm).
    public var featureIndices: [Int] { featureLayers.map { $0 < 0 ? vision.layers + 1 + $0 : $0 } }
    /// Rows the features of one image fill (576 for LLaVA-1.5).
    public var imageTokens: Int { vision.patches + (selectStrategy == "full" ? 1 : 0) }
}

/// `multi_modal_projector`: linear_2(gelu(linear_1(x))).
public struct LlavaProjector: @unchecked Sendable {
    let linear1, linear2: CLIPLinear

    init(tensors: [String: TensorView], inputs: Int, outputs: Int, path: String) throws {
        let prefix = ["multi_modal_projector.", "model.multi_modal_projector."].first {
            tensors[$0 + "linear_1.weight"] != nil
        } ?? "multi_modal_projector."
        let w = WeightSource(tensors: tensors, prefix: prefix, path: path)
        linear1 = try CLIPLinear(w, "linear_1", out: outputs, in: inputs)
        linear2 = try CLIPLinear(w, "linear_2", out: outputs, in: outputs)
    }

    /// `[rows × outputs]` for features `[rows × inputs]`.
    public func callAsFunction(_ features: [Float], rows: Int) -> [Float] {
        var h = linear1(features, rows: rows)
        for i in h.indices { h[i] = gelu(h[i]) }   // exact GELU (Projector.swift)
        return linear2(h, rows: rows)
    }
}

/// A reply of the model about one image.
public struct LlavaAnswer: Sendable {
    public let ids: [Int]
    /// The reply decoded without special tokens.
    public let text: String
    public let generation: Generation
    public let visionSeconds: Double
}

/// A loaded LLaVA-1.5 model.
public final class LlavaModel: @unchecked Sendable {
    public let path: String
    public let config: LlavaConfig
    public let processor: CLIPImageProcessor
    public let vision: CLIPVisionTower
    public let projector: LlavaProjector
    public let language: LoadedModel
    public let tokenizer: any Tokenizer

    /// The prompt of llava-hf's model card and the seed's evaluate_llava.py.
    public static func promptText(question: String) -> String { "USER: <image>\n\(question) ASSISTANT:" }

    /// Where the 7B model is looked for when no folder is given.
    public static var defaultPath: String { (CachePaths.models as NSString).appendingPathComponent("llava-1.5-7b-hf") }

    /// What to do when the folder is missing.
    public static var downloadHint: String {
        "no LLaVA model here. Download llava-hf/llava-1.5-7b-hf (about 14 GB in float16: config.json, "
            + "the model-*.safetensors shards and model.safetensors.index.json, tokenizer.json, tokenizer_config.json, "
            + "preprocessor_config.json), e.g. `huggingface-cli download llava-hf/llava-1.5-7b-hf --local-dir \(defaultPath)`, "
            + "and put it in \(defaultPath) (the default) or name its folder (eval-llava --model DIR, load model DIR)"
    }

    /// Whether `path` is a folder whose config.json has a `vision_config` (cheap; no weights read).
    public static func isLlavaFolder(_ path: String) -> Bool {
        let cfg = ((path as NSString).expandingTildeInPath as NSString).appendingPathComponent("config.json")
        guard let d = FileManager.default.contents(atPath: cfg),
              let j = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] else { return false }
        return j["vision_config"] is [String: Any]
    }

    /// Loads a llava-hf folder (nil: the default path). Only the vision layers the features
    /// need are read; the weights stay memory-mapped in their stored type.
    public static func load(path: String?) throws -> LlavaModel {
        let dir = ((path ?? defaultPath) as NSString).expandingTildeInPath
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw FormatError(dir, downloadHint)
        }
        let cfgPath = (dir as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw FormatError(dir, "no config.json: " + downloadHint)
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(cfgPath, "not valid JSON")
        }
        return try LlavaModel(dir: dir, json: json)
    }

    init(dir: String, json: [String: Any]) throws {
        let cfgPath = (dir as NSString).appendingPathComponent("config.json")
        config = try LlavaConfig(json: json, path: cfgPath)
        processor = try CLIPImageProcessor.load(folder: dir)
        path = dir
        language = try LlavaTextConfig.loadLanguageModel(dir: dir, json: json)
        tokenizer = try language.requireTokenizer()
        let tensors = try SafeTensorsFolder(path: dir).tensors
        vision = try CLIPVisionTower(tensors: tensors, config: config.vision, keepLayers: config.featureIndices.max()!, path: dir)
        projector = try LlavaProjector(tensors: tensors, inputs: config.vision.hiddenSize * config.featureLayers.count,
                                       outputs: language.model.config.dim, path: dir)
        guard tokenizer.tokenID("<image>") == config.imageTokenIndex else {
            throw FormatError(dir, "the tokenizer has no <image> token with id \(config.imageTokenIndex) (image_token_index)")
        }
    }

    // MARK: - Image side

    /// Pixel values `[3][336][336]` of a digit.
    public func pixelValues(_ image: DigitImage) -> [Float] { processor.pixelValues(image) }

    /// Selected vision features `[imageTokens × d_vision·layers]`: the configured hidden
    /// states, class token dropped for "default", concatenated along features.
    public func visionFeatures(_ pixels: [Float]) throws -> [Float] {
        let idx = config.featureIndices, d = config.vision.hiddenSize, n = config.vision.patches + 1
        let skip = config.selectStrategy == "default" ? 1 : 0
        let states = try vision.hiddenStates(pixels, indices: idx)
        if states.count == 1 { return Array(states[0][(skip * d)...]) }
        var out: [Float] = []
        out.reserveCapacity((n - skip) * d * states.count)
        for r in skip..<n { for s in states { out += s[(r * d)..<((r + 1) * d)] } }
        return out
    }

    /// What replaces the `<image>` tokens: the projector applied to the vision features.
    public func imageEmbeddings(_ image: DigitImage) throws -> [Float] {
        try projector(visionFeatures(pixelValues(image)), rows: config.imageTokens)
    }

    // MARK: - Prompt

    /// The prompt tokenized once, as llava-hf does (BOS, one `<image>` id).
    public func promptIDs(question: String) throws -> [Int] {
        var ids = tokenizer.encode(Self.promptText(question: question), parseSpecial: true)
        if tokenizer.addsBOSByDefault, let bos = tokenizer.bosID { ids.insert(bos, at: 0) }
        guard ids.filter({ $0 == config.imageTokenIndex }).count == 1 else {
            throw FormatError(path, "the question must not contain <image>: the prompt needs exactly one image token")
        }
        return ids
    }

    /// The ids the language model sees: `<image>` expanded to one id per feature row.
    public func expandedPromptIDs(question: String) throws -> [Int] {
        try promptIDs(question: question).flatMap { $0 == config.imageTokenIndex ? Array(repeating: $0, count: config.imageTokens) : [$0] }
    }

    /// Input embeddings `[ids × d_model]` with the image rows in place of `<image>`.
    public func inputEmbeddings(question: String, imageRows: [Float]) throws -> [Float] {
        let ids = try promptIDs(question: question)
        let at = ids.firstIndex(of: config.imageTokenIndex)!
        let m = language.model
        return m.embed(Array(ids[..<at])) + imageRows + m.embed(Array(ids[(at + 1)...]))
    }

    /// Logits `[vocab]` at the last prompt position (the first reply token's distribution).
    public func lastLogits(question: String, image: DigitImage) throws -> [Float] {
        let x = try inputEmbeddings(question: question, imageRows: imageEmbeddings(image))
        let cache = KVCache(config: language.model.config, capacity: x.count / language.model.config.dim)
        return try language.model.forward(x, cache: cache, logitRows: [x.count / language.model.config.dim - 1])
    }

    /// EOS ids of the tokenizer and the config.
    public var stopTokens: Set<Int> { Set(language.model.config.eosIDs).union(tokenizer.eosID.map { [$0] } ?? []) }

    /// Greedy (or sampled) reply about `image`; stops at EOS unless `stopAtEOS` is false.
    public func answer(question: String, image: DigitImage, maxTokens: Int = 15, sampling: SamplingParameters = .greedy,
                       stopAtEOS: Bool = true, onToken: (Int) -> Bool = { _ in true }) throws -> LlavaAnswer {
        let t0 = Clock.now()
        let rows = try imageEmbeddings(image)
        let t1 = Clock.now()
        let x = try inputEmbeddings(question: question, imageRows: rows)
        let gen = try language.model.generate(embeddings: x, maxTokens: maxTokens, stopTokens: stopAtEOS ? stopTokens : [],
                                              sampling: sampling, onToken: onToken)
        return LlavaAnswer(ids: gen.ids, text: tokenizer.decode(gen.ids, skipSpecial: true), generation: gen, visionSeconds: t1 - t0)
    }
}

/// llava-hf's config.json names only what differs from transformers' LlamaConfig defaults
/// (llava-1.5-7b-hf's text_config has no hidden_size or layer count at all). The engine's
/// loader needs them written out, so for such folders the language model is loaded from a
/// temporary folder holding a completed config.json and links to the original files.
enum LlavaTextConfig {
    /// transformers' LlamaConfig defaults (Llama 2 7B shape).
    static let llamaDefaults: [String: Any] = [
        "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
        "vocab_size": 32000, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "bos_token_id": 1, "eos_token_id": 2,
    ]

    /// The text config with transformers' defaults for absent fields.
    static func completed(_ text: [String: Any]) -> [String: Any] {
        text.merging(llamaDefaults) { have, _ in have }
    }

    static func loadLanguageModel(dir: String, json: [String: Any]) throws -> LoadedModel {
        let text = json["text_config"] as? [String: Any] ?? [:]
        let full = completed(text)
        guard full.count != text.count else { return try ModelLoader.load(path: dir, weightPrefix: nil) }
        let fm = FileManager.default
        let shim = (NSTemporaryDirectory() as NSString).appendingPathComponent("llava-text-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(atPath: shim, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: shim) }   // the mapped weights outlive the links
        var patched = json
        patched["text_config"] = full
        try JSONSerialization.data(withJSONObject: patched).write(to: URL(fileURLWithPath: (shim as NSString).appendingPathComponent("config.json")))
        for name in try fm.contentsOfDirectory(atPath: dir) where name != "config.json" && !name.hasPrefix(".") {
            try fm.createSymbolicLink(atPath: (shim as NSString).appendingPathComponent(name),
                                      withDestinationPath: (dir as NSString).appendingPathComponent(name))
        }
        return try ModelLoader.load(path: shim, weightPrefix: nil)
    }
}
