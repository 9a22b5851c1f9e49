// IDX image and label files, raw or gzip (the first byte picks which reader sees the rest,
// so one corpus covers both).
import Foundation
import Llava
import CFuzz

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = count > 0 ? Data(bytes: start!, count: count) : Data()
    _ = try? IDX.decodeImages(data, name: "fuzz-images-idx3-ubyte")
    _ = try? IDX.decodeLabels(data, name: "fuzz-labels-idx1-ubyte")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
