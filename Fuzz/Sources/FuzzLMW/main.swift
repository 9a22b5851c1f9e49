// `.lmw` workflow documents: fences, options, output blocks, every statement in them; then
// the rewriting `check --update` does.
import Notebook
import CFuzz
import Foundation

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let doc = try? LMWDocument(text: text, file: "fuzz.lmw") else { return 0 }
    _ = doc.parameters
    var outputs: [Int: String] = [:]
    for block in doc.commandBlocks { outputs[block.index] = block.index % 2 == 0 ? "out\n```\nx" : "" }
    _ = doc.rewritingExpectedOutputs(outputs)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
