// `llava-mnist tokenize`: ids and pieces of a text, from a model's tokenizer or a tokenizer.json.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how a tokenizer splits a text (special tokens in the text are recognized).")

    @Option(help: "A GGUF file or Hugging Face folder (default: SmolLM2).") var model: String?
    @Option(help: "A tokenizer.json file (tokenizer_config.json beside it is read too).") var tokenizer: String?
    @Flag(help: "Print {\"ids\": [...], \"tokens\": [...]}.") var json = false
    @Flag(name: .customLong("no-special"), help: "Treat special-token text as plain text.") var noSpecial = false
    @Flag(name: .customLong("add-bos"), help: "Prepend BOS when the tokenizer's defaults do (as Hugging Face's add_special_tokens=True).") var addBOS = false
    @Argument(help: "The text.") var text: String

    func validate() throws {
        if model != nil && tokenizer != nil { throw ValidationError("give either --model or --tokenizer, not both") }
    }

    func run() throws {
        try reportingErrors {
            let tok = try loadTokenizer()
            var ids = tok.encode(text, parseSpecial: !noSpecial)
            if addBOS, tok.addsBOSByDefault, let bos = tok.bosID { ids.insert(bos, at: 0) }
            let pieces = ids.map { tok.tokenPiece($0) }
            if json {
                try printJSON(["ids": ids, "tokens": pieces])
            } else {
                for (id, piece) in zip(ids, pieces) { print("\(id)\t\(piece.debugDescription)") }
                print("\(ids.count) tokens")
            }
        }
    }

    /// Only the tokenizer is read: a GGUF's metadata or a folder's tokenizer.json, not the weights.
    func loadTokenizer() throws -> any Tokenizer {
        if let tokenizer {
            let cfg = ((tokenizer as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tokenizer_config.json")
            return try TokenizerLoader.fromTokenizerJSON(tokenizer, config: FileManager.default.fileExists(atPath: cfg) ? cfg : nil)
        }
        let path = try Session.resolveModelPath(model)
        var isDir: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        return isDir.boolValue ? try TokenizerLoader.fromFolder(path) : try TokenizerLoader.fromGGUF(GGUFFile(path: path))
    }
}
