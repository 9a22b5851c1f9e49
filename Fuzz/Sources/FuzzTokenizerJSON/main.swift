// tokenizer.json: the JSON reader, the BPE model (vocabulary, merges, added tokens), the
// pre-tokenizer choice; then encoding and decoding a fixed text with what was built.
import Foundation
import LlamaKit
import CFuzz

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = count > 0 ? Data(bytes: start!, count: count) : Data()
    guard let tokenizer = try? TokenizerLoader.fromTokenizerJSON(data: data, name: "tokenizer.json") else { return 0 }
    let ids = tokenizer.encode("Hello, world! 123 <|im_start|>user\nWhat's the digit? ▁x é\u{1F600}")
    _ = tokenizer.decode(ids, skipSpecial: true)
    for id in [-1, 0, 1, tokenizer.vocabSize - 1, tokenizer.vocabSize] {
        _ = tokenizer.tokenBytes(id); _ = tokenizer.tokenPiece(id); _ = tokenizer.isSpecial(id)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
