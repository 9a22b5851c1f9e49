// The safetensors header (length, JSON, dtypes, shapes, data offsets) and the tensor data.
import LlamaKit
import CFuzz
import Foundation

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let file = try? SafeTensorsFile(bytes: bytes, name: "fuzz.safetensors") else { return 0 }
    for t in file.tensors where t.elementCount <= 1 << 16 { _ = t.toFloats() }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
