// `llava-mnist generate`: raw completion of a prompt (no chat format), by text or by ids.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a raw prompt (no chat format). --prompt-ids works on models without a tokenizer.")

    @Option(help: "A GGUF file or Hugging Face folder (default: SmolLM2).") var model: String?
    @Option(parsing: .unconditional, help: "Compute threads (default: one per core).") var threads: Int?
    @Option(help: "The prompt text (special tokens recognized; BOS added when the tokenizer's defaults do).") var prompt: String?
    @Option(name: .customLong("prompt-ids"), help: "The prompt as comma-separated token ids, e.g. 1,483,321.") var promptIDs: String?
    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Most new tokens.") var maxTokens = 32
    @Option(help: "Sampling temperature (0 = greedy).") var temp: Double = 0
    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = all).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold.") var topP: Double = 1
    @Option(help: "Random seed for sampling.") var seed: Int = 0
    @Flag(name: .customLong("ignore-eos"), help: "Keep going after end-of-sequence tokens.") var ignoreEOS = false
    @Flag(help: "Print {\"ids\": [new ids], \"text\": \"…\"}.") var json = false

    func validate() throws {
        if (prompt == nil) == (promptIDs == nil) { throw ValidationError("give exactly one of --prompt or --prompt-ids") }
        if maxTokens < 1 || maxTokens > 8192 { throw ValidationError("--max-tokens must be between 1 and 8192") }
        if temp < 0 { throw ValidationError("--temp must not be negative") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            if let threads { Parallel.threads = threads }
            let loaded = try ModelLoader.load(path: Session.resolveModelPath(model))
            let vocab = loaded.model.config.vocabSize
            var ids: [Int]
            if let promptIDs {
                ids = try promptIDs.split(separator: ",").map { part -> Int in
                    let t = part.trimmingCharacters(in: .whitespaces)
                    guard let id = Int(t), id >= 0, id < vocab else { throw CommandError("--prompt-ids: '\(t)' is not a token id (0…\(vocab - 1))") }
                    return id
                }
                guard !ids.isEmpty else { throw CommandError("--prompt-ids is empty") }
            } else {
                let tok = try loaded.requireTokenizer()
                ids = tok.encode(prompt!, parseSpecial: true)
                if tok.addsBOSByDefault, let bos = tok.bosID, ids.first != bos { ids.insert(bos, at: 0) }
                guard !ids.isEmpty else { throw CommandError("the prompt is empty") }
            }
            try Session.checkContext(promptTokens: ids.count, maxTokens: maxTokens, context: loaded.model.config.contextLength)
            var stops = Set(loaded.model.config.eosIDs)
            if let tok = loaded.tokenizer {
                if let e = tok.eosID { stops.insert(e) }
                stops.formUnion(ChatFormat.detect(chatTemplate: loaded.chatTemplate, tokenizer: tok).stopTokens(tok))
            }
            if ignoreEOS { stops = [] }
            let sampling = SamplingParameters(temperature: Float(temp), topK: topK, topP: Float(topP), seed: UInt64(truncatingIfNeeded: seed))
            var stream = StreamingDecoder()
            let tok = loaded.tokenizer
            let gen = try loaded.model.generate(tokens: ids, maxTokens: maxTokens, stopTokens: stops, sampling: sampling) { id in
                if !json, let tok {
                    print(stream.append(tok.tokenBytes(id)), terminator: "")
                    fflush(nil)
                }
                return true
            }
            let text = tok.map { $0.decode(gen.ids) } ?? ""
            if json { try printJSON(["ids": gen.ids, "text": text]) }
            else if tok == nil { print(gen.ids.map(String.init).joined(separator: ",")) }
            else { print(stream.flush()) }
        }
    }
}
