// GGUF header, metadata and tensor infos; then what loading does with them: the tokenizer
// from metadata and the dequantization of (small) tensors.
import LlamaKit
import CFuzz
import Foundation

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let gguf = try? GGUFFile(bytes: bytes, name: "fuzz.gguf") else { return 0 }
    for t in gguf.tensors where t.elementCount <= 1 << 16 { _ = t.toFloats() }
    if let tokenizer = try? TokenizerLoader.fromGGUF(gguf) {
        let ids = tokenizer.encode("Hello, world! 123 <|im_start|>user\nWhat digit is this?")
        _ = tokenizer.decode(ids)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
