// Opens the model files people actually have: a GGUF file (llama.cpp layout, quantized or
// not) or a Hugging Face folder (config.json + safetensors, single or sharded). The
// tokenizer comes from the same place; a model without one still runs by token id.
import Foundation

/// A model ready to run, with its tokenizer and chat template when the files have them.
public struct LoadedModel: @unchecked Sendable {
    public let path: String
    /// "gguf" or "safetensors".
    public let format: String
    public let model: LlamaModel
    /// Nil when the files carry no tokenizer; `tokenizerProblem` then says why.
    public let tokenizer: (any Tokenizer)?
    public let tokenizerProblem: FormatError?
    /// The Jinja chat template stored with the model, if any.
    public let chatTemplate: String?
    /// Every metadata key/value (GGUF) or config entry (HF), for `inspect`.
    public let gguf: GGUFFile?

    /// The tokenizer, or the error explaining why text commands cannot run on this model.
    public func requireTokenizer() throws -> any Tokenizer {
        if let tokenizer { return tokenizer }
        throw tokenizerProblem ?? FormatError(path, "this model has no tokenizer")
    }
}

public enum ModelLoader {
    /// Loads a GGUF file or a Hugging Face model folder.
    /// `weightPrefix` selects a sub-model in a composite checkpoint (LLaVA: "language_model.").
    public static func load(path: String, weightPrefix: String? = nil) throws -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError(path, "no such file or folder")
        }
        return isDir.boolValue ? try loadFolder(path, prefix: weightPrefix) : try loadGGUF(path)
    }

    static func loadGGUF(_ path: String) throws -> LoadedModel {
        let gguf = try GGUFFile(path: path)
        let config = try LlamaConfig(gguf: gguf)
        var byName: [String: TensorView] = [:]
        for t in gguf.tensors { byName[t.name] = t }
        let weights = try LlamaWeights.load(config: config, path: path, pairing: .adjacent) { byName[$0.gguf] }
        var tokenizer: (any Tokenizer)?
        var problem: FormatError?
        do { tokenizer = try TokenizerLoader.fromGGUF(gguf) } catch { problem = tokenizerFailure(error, path: path) }
        return LoadedModel(path: path, format: "gguf", model: LlamaModel(config: config, weights: weights),
                           tokenizer: tokenizer, tokenizerProblem: problem,
                           chatTemplate: gguf.metadata["tokenizer.chat_template"]?.string, gguf: gguf)
    }

    static func loadFolder(_ dir: String, prefix: String?) throws -> LoadedModel {
        let configPath = (dir as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw FormatError(dir, "not a model folder: no config.json (expected a Hugging Face folder or a .gguf file)")
        }
        guard var json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(configPath, "not valid JSON")
        }
        if let text = json["text_config"] as? [String: Any] { json = text }   // LLaVA-style composite
        var config = try LlamaConfig(json: json, path: configPath)
        config.eosIDs = mergedStopIDs(config.eosIDs, generationConfig: (dir as NSString).appendingPathComponent("generation_config.json"))
        let folder = try SafeTensorsFolder(path: dir)
        let pre = prefix ?? (folder.tensors["language_model.model.embed_tokens.weight"] != nil ? "language_model." : "")
        let weights = try LlamaWeights.load(config: config, path: dir, pairing: .halves) { folder.tensors[$0.hf(pre)] }
        var tokenizer: (any Tokenizer)?
        var problem: FormatError?
        do { tokenizer = try TokenizerLoader.fromFolder(dir) } catch { problem = tokenizerFailure(error, path: dir) }
        let template = readChatTemplate(dir)
        return LoadedModel(path: dir, format: "safetensors", model: LlamaModel(config: config, weights: weights),
                           tokenizer: tokenizer, tokenizerProblem: problem, chatTemplate: template, gguf: nil)
    }

    /// Any tokenizer failure becomes the `tokenizerProblem`: the weights are usable by token id
    /// either way, so a broken tokenizer must not make the whole model fail to load.
    static func tokenizerFailure(_ error: Error, path: String) -> FormatError {
        error as? FormatError ?? FormatError(path, "cannot read the tokenizer (\(error)); id-only commands still work")
    }

    /// End-of-sequence ids from config.json plus those of generation_config.json when present
    /// (Llama 3.1 lists `<|eot_id|>` and `<|eom_id|>` there).
    static func mergedStopIDs(_ ids: [Int], generationConfig path: String) -> [Int] {
        guard let d = FileManager.default.contents(atPath: path),
              let j = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] else { return ids }
        var out = ids
        if let list = j["eos_token_id"] as? [NSNumber] { out += list.map(\.intValue) }
        else if let one = j["eos_token_id"] as? NSNumber { out.append(one.intValue) }
        var seen = Set<Int>()
        return out.filter { seen.insert($0).inserted }
    }

    /// `chat_template` from tokenizer_config.json, or a chat_template.jinja file.
    static func readChatTemplate(_ dir: String) -> String? {
        let cfg = (dir as NSString).appendingPathComponent("tokenizer_config.json")
        if let d = FileManager.default.contents(atPath: cfg),
           let j = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any], let t = j["chat_template"] as? String {
            return t
        }
        let jinja = (dir as NSString).appendingPathComponent("chat_template.jinja")
        return (try? String(contentsOfFile: jinja, encoding: .utf8))
    }
}
